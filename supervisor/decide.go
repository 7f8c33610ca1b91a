package supervisor

import (
	"fmt"

	"github.com/gomha/gomha/manager"
	"github.com/gomha/gomha/manager/config"
)

// found is one configuration file as Reload read it.
type found struct {
	File string
	Cfg  *config.Config // nil when Err
	Hash string         // of the file's bytes and of the global file's
	Err  error
}

// current is what decide needs of a unit that exists.
type current struct {
	ID       int
	File     string
	App      string
	Servers  []string // the keys of the servers of the configuration it runs
	Hash     string
	Idle     bool // stopped by request, or waiting for an operator
	Stopping bool // its file is gone: it stops, and is not started again
}

type action int

const (
	actStart   action = iota + 1 // a new file: a new unit
	actRestart                   // its file changed: the unit restarts with it
	actWake                      // unchanged, but the unit is idle: it starts again
	actKeep                      // unchanged and running: not touched
	actStop                      // its file is gone: the unit stops
	actReject                    // cannot be loaded or taken: nothing changes (Err says why)
)

func (a action) String() string {
	return map[action]string{actStart: "start", actRestart: "restart", actWake: "wake", actKeep: "keep",
		actStop: "stop", actReject: "reject"}[a]
}

// change is what Reload does about one file.
type change struct {
	File string
	Act  action
	ID   int // the unit concerned (restart, wake, keep, stop; reject with Running)
	Cfg  *config.Config
	Hash string
	Err  error
	// Running: a unit runs for this rejected file and keeps its previous
	// configuration.
	Running bool
	// After lists the units stopping in this reload that must be gone
	// before this one starts: they watched its application or a server.
	After []int
}

// claim is one thing only one unit may watch: an application or a server.
type claim struct {
	file     string
	app      string
	id       int
	stopping bool
}

type claims map[string]claim // "app NAME" or "server HOST:PORT"

func appKey(app string) string    { return "app " + app }
func serverKey(key string) string { return "server " + key }

func serverKeys(cfg *config.Config) []string {
	keys := make([]string, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		keys = append(keys, manager.TopologyServer(s).Key().String())
	}
	return keys
}

func (c claims) add(app string, servers []string, cl claim) {
	c[appKey(app)] = cl
	for _, k := range servers {
		c[serverKey(k)] = cl
	}
}

func (c claims) drop(id int) {
	for k, cl := range c {
		if cl.id == id && !cl.stopping {
			delete(c, k)
		}
	}
}

// check says whether file may watch cfg: an error naming the first
// conflict with a unit that goes on, else the stopping units to wait for.
func (c claims) check(file string, cfg *config.Config) (after []int, err error) {
	seen := map[int]bool{}
	keys := append([]string{appKey(cfg.App)}, func() []string {
		var ks []string
		for _, k := range serverKeys(cfg) {
			ks = append(ks, serverKey(k))
		}
		return ks
	}()...)
	for _, k := range keys {
		cl, ok := c[k]
		if !ok || cl.file == file && !cl.stopping {
			continue
		}
		if !cl.stopping {
			return nil, fmt.Errorf("%s: %s is already watched from %s (app %s)", file, k, cl.file, cl.app)
		}
		if !seen[cl.id] {
			seen[cl.id] = true
			after = append(after, cl.id)
		}
	}
	return after, nil
}

// decide turns the units that exist and the files a Reload found into
// what it does to each. Files are taken in the order given, units already
// running first: of two files that claim the same application or server,
// the one already watched keeps it, else the first listed.
func decide(cur []current, files []found) []change {
	listed := map[string]bool{}
	for _, f := range files {
		listed[f.File] = true
	}
	running := map[string]current{}
	owned := claims{}
	var out []change
	for _, u := range cur {
		stopping := u.Stopping || !listed[u.File]
		owned.add(u.App, u.Servers, claim{file: u.File, app: u.App, id: u.ID, stopping: stopping})
		if stopping {
			if !u.Stopping {
				out = append(out, change{File: u.File, Act: actStop, ID: u.ID})
			}
			continue
		}
		running[u.File] = u
	}
	for _, f := range files {
		u, ok := running[f.File]
		if !ok {
			continue
		}
		switch {
		case f.Err != nil:
			out = append(out, change{File: f.File, Act: actReject, ID: u.ID, Err: f.Err, Running: true})
		case f.Hash == u.Hash && u.Idle:
			out = append(out, change{File: f.File, Act: actWake, ID: u.ID})
		case f.Hash == u.Hash:
			out = append(out, change{File: f.File, Act: actKeep, ID: u.ID})
		default:
			owned.drop(u.ID)
			after, err := owned.check(f.File, f.Cfg)
			if err != nil {
				owned.add(u.App, u.Servers, claim{file: u.File, app: u.App, id: u.ID})
				out = append(out, change{File: f.File, Act: actReject, ID: u.ID, Err: err, Running: true})
				continue
			}
			owned.add(f.Cfg.App, serverKeys(f.Cfg), claim{file: f.File, app: f.Cfg.App, id: u.ID})
			out = append(out, change{File: f.File, Act: actRestart, ID: u.ID, Cfg: f.Cfg, Hash: f.Hash, After: after})
		}
	}
	for _, f := range files {
		if _, ok := running[f.File]; ok {
			continue
		}
		if f.Err != nil {
			out = append(out, change{File: f.File, Act: actReject, Err: f.Err})
			continue
		}
		after, err := owned.check(f.File, f.Cfg)
		if err != nil {
			out = append(out, change{File: f.File, Act: actReject, Err: err})
			continue
		}
		owned.add(f.Cfg.App, serverKeys(f.Cfg), claim{file: f.File, app: f.Cfg.App, id: -1})
		out = append(out, change{File: f.File, Act: actStart, Cfg: f.Cfg, Hash: f.Hash, After: after})
	}
	return out
}
