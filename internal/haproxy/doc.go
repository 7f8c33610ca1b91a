// Package haproxy runs Debian's HAProxy (/usr/sbin/haproxy) in front of a
// sandbox cluster, with the configuration of docs/haproxy.cfg rendered for
// the sandbox's addresses, and a manager with its HTTP API in the same
// process (a supervisor, as gomha manager --http runs it) for HAProxy's
// checks. TestHAProxyRoutingSandbox and make bench use it to measure what
// a client connected through the proxy sees across a failover and an
// online switchover. TestTwoManagersConfig runs
// docs/haproxy-two-managers.cfg against two stand-in managers.
//
// HAProxy runs in the foreground (-db), started and stopped by its pid
// only; its log (state changes of the servers, with the check's status)
// goes to a file in its directory.
package haproxy
