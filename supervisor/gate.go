package supervisor

import "context"

// Gate decides when this process may run the manager of a cluster. It is
// the seam for coordination between several manager processes (an etcd
// election, for instance); LocalGate, the default, always grants.
//
// A unit calls Lead before it runs the manager of app, and runs it with
// the returned lead context:
//
//   - Lead blocks until this process leads app, then returns a context
//     that ends when it no longer does (a lost lease, for instance). lead
//     must be ctx or derived from it: ctx ends when the unit is stopped,
//     restarted or the process exits, and the manager must see that. Lead
//     returns an error when ctx ends first (ctx.Err()) or when leadership
//     cannot be asked for; the unit reports the error in one line and
//     asks again after Options.Retry.
//   - When lead ends, RunManager stops as it does on any cancellation:
//     at once while it watches, only once a failover it has begun has
//     finished (RunManager never cancels a failover). A Gate that must
//     stop an actor mid-failover does it with the fencing token checked
//     before each journal step (coord), not with this context.
//   - The unit calls release exactly once per successful Lead, after the
//     manager has returned, whether it stopped because lead ended, because
//     the unit was stopped or restarted, or with an error. release gives
//     the leadership up if it is still held. After a lost leadership the
//     unit calls Lead again at once; after an error, once it has waited
//     (Options.Retry, or an operator after a failed failover).
//   - While a unit waits in Lead it runs nothing but holds the presence
//     lock as a standby (check status on that host says so).
//
// Lead is called from one goroutine per unit, for different apps at the
// same time: it must be safe for concurrent use.
type Gate interface {
	Lead(ctx context.Context, app string) (lead context.Context, release func(), err error)
}

// LocalGate is the gate of a process alone: it grants every cluster at
// once and never takes the leadership back. The one-manager-per-cluster
// rule on one host is kept by the manager's presence lock in
// manager_workdir.
type LocalGate struct{}

// Lead returns ctx itself.
func (LocalGate) Lead(ctx context.Context, _ string) (context.Context, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return ctx, func() {}, nil
}
