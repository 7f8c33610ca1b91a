package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"

	"github.com/gomha/gomha/internal/simmysql"
)

// simProc is the simulator helper process (cmd/simmysql), driven by JSON
// lines, so that the manager's figures are the bench process's alone.
type simProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *json.Decoder
}

func startSim(ctx context.Context, path string, basePort int, stderr io.Writer, args ...string) (*simProc, error) {
	cmd := exec.CommandContext(ctx, path, append([]string{"-base-port", fmt.Sprint(basePort)}, args...)...)
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the simulator %s: %w", path, err)
	}
	return &simProc{cmd: cmd, in: in, out: json.NewDecoder(bufio.NewReader(out))}, nil
}

// call sends one request and reads its response.
func (p *simProc) call(req simmysql.Request) (simmysql.Response, error) {
	var res simmysql.Response
	b, _ := json.Marshal(req)
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		return res, fmt.Errorf("simulator %s: %w", req.Op, err)
	}
	if err := p.out.Decode(&res); err != nil {
		return res, fmt.Errorf("simulator %s: %w", req.Op, err)
	}
	if !res.OK {
		return res, fmt.Errorf("simulator %s: %s", req.Op, res.Error)
	}
	return res, nil
}

// close asks the simulator to quit and waits for it.
func (p *simProc) close() {
	_, _ = p.call(simmysql.Request{Op: "quit"})
	p.in.Close()
	_ = p.cmd.Wait()
}
