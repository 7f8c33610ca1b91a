package manager

import (
	"context"

	"github.com/gomha/gomha/failover"
	"github.com/gomha/gomha/node"
	"github.com/gomha/gomha/topology"
)

var _ failover.SwitchEnv = (*Env)(nil)

// ConnectSwitch opens an admin session with what a switchover needs.
func (e *Env) ConnectSwitch(ctx context.Context, key topology.Key) (failover.SwitchNode, error) {
	n, err := e.Connect(ctx, key)
	if err != nil {
		return nil, err
	}
	return switchSession{n.(*node.Session)}, nil
}

// switchSession adapts node.Session to failover.SwitchNode: node cannot
// name failover's types, so its rows are converted here.
type switchSession struct{ *node.Session }

func (s switchSession) Threads(ctx context.Context) ([]failover.Thread, error) {
	ts, err := s.Session.Threads(ctx)
	out := make([]failover.Thread, len(ts))
	for i, t := range ts {
		out[i] = failover.Thread(t)
	}
	return out, err
}

func (s switchSession) Transactions(ctx context.Context) ([]failover.Trx, error) {
	return trxs(s.Session.Transactions(ctx))
}

func (s switchSession) ActiveTransactions(ctx context.Context) ([]failover.Trx, error) {
	return trxs(s.Session.ActiveTransactions(ctx))
}

func trxs(ts []node.Trx, err error) ([]failover.Trx, error) {
	out := make([]failover.Trx, len(ts))
	for i, t := range ts {
		out[i] = failover.Trx(t)
	}
	return out, err
}
