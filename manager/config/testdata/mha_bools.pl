#!/usr/bin/perl
# mha_bools.pl: print how MHA 0.58's own code reads each boolean parameter of
# every server of a configuration: 1 or 0 where MHA has a single reading,
# "refused" where it stops on the value or reads it both ways. A comment after
# two blanks says what MHA stored and why; the Go test ignores it.
# Used to make booleans.mha.txt; see README.md.
#   perl mha_bools.pl booleans.cnf > booleans.mha.txt
# Needs mha4mysql-manager and mha4mysql-node (save_binary_logs and
# apply_diff_relay_logs on the PATH).
use strict;
use warnings;
use Getopt::Long qw(GetOptionsFromArray);
use MHA::Config;
use MHA::NodeUtil;
use MHA::ServerManager;

{
  no warnings 'redefine';
  *MHA::NodeUtil::get_ip = sub { my $h = shift; return $h };    # IP literals only
}

# Parameters MHA tests only as Perl does (if, unless, &&).
my %truth = map { $_ => 1 } qw(check_repl_delay check_repl_filter ignore_fail
  latest_priority multi_tier_slave skip_init_ssh_check skip_reset_slave use_gtid_auto_pos);
# Parameters MHA also compares with 1, in ServerManager (fatal warnings).
my %compared = (
  candidate_master => sub { my $sm = shift; scalar( () = $sm->get_candidate_masters() ) },
  no_master        => sub { my $sm = shift; scalar( () = $sm->get_bad_candidate_masters( undef, 0 ) ) },
);
# Parameters MHA's manager hands to its node tools as --name=value.
my %node = map { $_ => 1 } qw(disable_log_bin handle_raw_binlog);

my $c = MHA::Config->new( file => $ARGV[0], globalfile => '/nonexistent' );
my ($servers) = $c->read_config();
for my $s (@$servers) {
  print "[$s->{id}]\n";
  for my $p ( sort( keys(%truth), keys(%compared), keys(%node) ) ) {
    my $v     = $s->{$p};
    my $t     = $v ? 1 : 0;
    my $why   = "stored \"$v\"";
    my $value = $t;
    if ( $compared{$p} ) {
      ( $value, $why ) = compared( $s, $p, $t, $why );
    }
    elsif ( $node{$p} ) {
      ( $value, $why ) = node_option( $p, $v, $t, $why );
    }
    else {
      $why .= "; tested as true or false";
    }
    print "$p=$value  # $why\n";
  }
}

# compared asks ServerManager, as a failover or masterha_check_repl does.
sub compared {
  my ( $s, $p, $t, $why ) = @_;
  my %one = ( %$s, id => $s->{id}, dead => 0, log_bin => 1, oldest_major_version => 1 );
  my $srv = bless {%one}, 'MHA::Server';
  my $sm  = MHA::ServerManager->new();
  $sm->set_servers( [$srv] );
  $sm->{alive_slaves} = [$srv];
  my $n = eval { $compared{$p}->($sm) };
  if ( my $err = $@ ) {
    $err =~ s/ at \S+ line \d+.*//s;
    return ( "refused", "$why; ServerManager dies: $err" );
  }
  return ( "refused", "$why; $t where tested as true or false, $n where compared with 1" )
    if ( $n != $t );
  return ( $n, "$why; compared with 1 and tested as true or false" );
}

# node_option runs MHA's node tools with the option as the manager passes it,
# and reads it with the same Getopt::Long specification they use ("=i").
sub node_option {
  my ( $p, $v, $t, $why ) = @_;
  for my $tool (qw(save_binary_logs apply_diff_relay_logs)) {
    return ( "refused", "$why; $tool refuses --$p=$v" ) unless ( runs_ok( $tool, "--$p=$v", "--version" ) );
  }
  local $SIG{__WARN__} = sub { };
  GetOptionsFromArray( ["--$p=$v"], \my %opt, "$p=i" );
  my $n = $opt{$p} ? 1 : 0;
  return ( "refused", "$why; the manager reads $t, the node tools read $n" ) if ( $n != $t );
  return ( $t, "$why; the manager and the node tools read $t" );
}

sub runs_ok {
  my @cmd = @_;
  my $pid = fork();
  die "fork: $!\n" unless defined($pid);
  if ( $pid == 0 ) {
    open( STDOUT, '>', '/dev/null' );
    open( STDERR, '>', '/dev/null' );
    exec(@cmd) or exit(127);
  }
  waitpid( $pid, 0 );
  return $? == 0;
}
