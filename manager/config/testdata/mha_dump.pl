#!/usr/bin/perl
# mha_dump.pl: print the servers MHA 0.58 reads from a configuration, one
# block per server in MHA's order, keys sorted, empty and undefined values
# left out, ssh_options left out (MHA applies it process-wide, not per server).
# Used to make the *.mha.txt golden files; see README.md.
#   perl mha_dump.pl app1.cnf [global.cnf] > app1.mha.txt
# Needs the mha4mysql-manager package (apt-get install mha4mysql-manager).
use strict;
use warnings;
use MHA::Config;
use MHA::NodeUtil;

# The same host names as stubResolver in the Go tests.
my %hosts = (host1 => '127.0.0.11', host2 => '127.0.0.12', host3 => '127.0.0.13',
  binlog_host1 => '127.0.0.20', db3 => '127.0.0.3');
{
  no warnings 'redefine';
  *MHA::NodeUtil::get_ip = sub {
    my $h = shift;
    return undef unless defined $h;
    return $h if $h =~ /^[\d.]+$/;
    return $hosts{$h} // die "cannot resolve $h\n";
  };
}
my ($file, $global) = @ARGV;
my $c = MHA::Config->new(file => $file, globalfile => ($global // '/nonexistent'));
my ($servers) = $c->read_config();
for my $s (@$servers) {
  print "[$s->{id}]\n";
  for my $k (sort keys %$s) {
    next if $k =~ /escaped/ || $k eq 'id' || $k eq 'ssh_options';
    next unless defined $s->{$k} && $s->{$k} ne '';
    print "$k=$s->{$k}\n";
  }
}
