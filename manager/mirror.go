package manager

import (
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"time"
)

// mirror copies the status and the view to a Coordination (etcd) for
// other hosts, in the background and latest first: a slow or absent etcd
// never delays the monitor or a failover.
type mirror struct {
	c   Coordination
	log *slog.Logger

	mu      sync.Mutex
	pending map[string][]byte
	wake    chan struct{}
	done    chan struct{}
	stopped bool
}

func newMirror(c Coordination, log *slog.Logger) *mirror {
	m := &mirror{c: c, log: log, pending: map[string][]byte{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go m.run()
	return m
}

// put queues name's latest value.
func (m *mirror) put(name string, data []byte) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if !m.stopped {
		m.pending[name] = data
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *mirror) run() {
	defer close(m.done)
	for range m.wake {
		for {
			m.mu.Lock()
			var name string
			var data []byte
			for n, d := range m.pending {
				name, data = n, d
				break
			}
			delete(m.pending, name)
			stopped := m.stopped
			m.mu.Unlock()
			if name == "" {
				if stopped {
					return
				}
				break
			}
			if err := publish(m.c, name, data); err != nil {
				m.log.Debug("state not published", "name", name, "error", err)
			}
		}
	}
}

// stop publishes what is queued (bounded by publishTimeout each) and ends.
func (m *mirror) stop() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	close(m.wake)
	<-m.done
}

// statusRecord is the status file's content as published.
type statusRecord struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Code    int       `json:"code"`
	Name    string    `json:"name"`
	Master  string    `json:"master"`
	Updated time.Time `json:"updated"`
}

func statusJSON(pid int, code StatusCode, master string) []byte {
	host, _ := os.Hostname()
	data, _ := json.Marshal(statusRecord{Host: host, PID: pid, Code: int(code), Name: code.Name(), Master: master, Updated: time.Now().UTC()})
	return data
}

// mirrorTo starts copying the status and the view to c (nil: nothing);
// the returned function stops it, once what is queued is published.
func (s *StatusFile) mirrorTo(c Coordination, log *slog.Logger) func() {
	if c == nil {
		return func() {}
	}
	m := newMirror(c, log)
	s.mu.Lock()
	s.mirror = m
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.mirror = nil
		s.mu.Unlock()
		m.stop()
	}
}
