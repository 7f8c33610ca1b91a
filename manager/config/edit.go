package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// EditHost implements masterha_conf_host: cmd "add" appends a block for a new
// host, cmd "delete" (or "remove") removes a block. The file is edited as
// text: every other line, comments included, is kept byte for byte, and the
// result replaces the file atomically with the same permissions and owner.
//
// block defaults to "server_<hostname>"; a block not starting with "server"
// gets that prefix, as in MHA. For "add", params are extra parameters of the
// new block (names are checked against MHA's list) and are written after
// hostname in name order. Adding an existing block returns ErrBlockExists;
// deleting a missing one returns ErrBlockNotFound.
func EditHost(file string, cmd string, block string, hostname string, params map[string]string) error {
	switch {
	case block != "" && !strings.HasPrefix(block, "server"):
		block = "server" + block
	case block == "" && hostname != "":
		block = "server_" + hostname
	case block == "":
		return fmt.Errorf("edit %s: a block name or a hostname is required", file)
	}
	if !serverBlock.MatchString(block) || strings.ContainsAny(block, "[]") {
		return fmt.Errorf("edit %s: invalid block name %q", file, block)
	}
	data, err := readConfigFile(file) // a FIFO or a device is refused, not read
	if err != nil {
		return err
	}
	path, err := filepath.EvalSymlinks(file)
	if err != nil {
		return fmt.Errorf("edit %s: %w", file, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("edit %s: %w", file, err)
	}
	lines := splitKeepEOL(string(data))
	switch cmd {
	case "add":
		lines, err = addBlock(lines, block, hostname, params)
	case "delete", "remove":
		lines, err = deleteBlock(lines, block)
	default:
		return fmt.Errorf("edit %s: unknown command %q (use add or delete)", file, cmd)
	}
	if err != nil {
		return fmt.Errorf("edit %s: [%s]: %w", file, block, err)
	}
	if err := writeAtomic(path, []byte(strings.Join(lines, "")), st); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

func addBlock(lines []string, block, hostname string, params map[string]string) ([]string, error) {
	if hostname == "" {
		return nil, errors.New("hostname is required")
	}
	if len(headerLines(lines, block)) > 0 {
		return nil, ErrBlockExists
	}
	if _, ok := params["hostname"]; ok {
		return nil, errors.New("pass hostname as the host name argument, not as a parameter")
	}
	body := []string{"[" + block + "]", "hostname=" + hostname}
	if _, err := encodeValue(hostname); err != nil || strings.ContainsAny(hostname, " \t\"'") {
		return nil, fmt.Errorf("invalid hostname %q", hostname)
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if _, ok := lookupParam(k); !ok {
			return nil, fmt.Errorf("%s: unknown parameter", k)
		}
		v, err := encodeValue(params[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		body = append(body, k+"="+v)
	}
	eol := detectEOL(lines)
	if n := len(lines); n > 0 {
		if !strings.HasSuffix(lines[n-1], "\n") && !strings.HasSuffix(lines[n-1], "\r") {
			lines[n-1] += eol
		}
		if strings.TrimSpace(lines[n-1]) != "" {
			lines = append(lines, eol)
		}
	}
	for _, l := range body {
		lines = append(lines, l+eol)
	}
	return lines, nil
}

// encodeValue returns v as it must be written for MHA to read back v.
func encodeValue(v string) (string, error) {
	if strings.ContainsAny(v, "\r\n") {
		return "", errors.New("value contains a line break")
	}
	if tinyInline.MatchString(v) {
		return "", errors.New(`value contains " ; ", which MHA reads as a comment`)
	}
	if v != strings.TrimSpace(v) || strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "'") ||
		strings.HasSuffix(v, `"`) || strings.HasSuffix(v, "'") {
		return `"` + v + `"`, nil
	}
	return v, nil
}

func deleteBlock(lines []string, block string) ([]string, error) {
	heads := headerLines(lines, block)
	if len(heads) == 0 {
		return nil, ErrBlockNotFound
	}
	slices.Reverse(heads)
	for _, h := range heads {
		end := h + 1 // one past the last key line of the block
		for i := h + 1; i < len(lines); i++ {
			kind, _ := classifyLine(lines[i])
			if kind == lineHeader {
				break
			}
			if kind == lineKey {
				end = i + 1
			}
		}
		lines = slices.Delete(lines, h, end)
		// Do not leave two blank lines where the block was, nor one at the end.
		prevBlank := h == 0 || strings.TrimSpace(lines[h-1]) == ""
		switch {
		case prevBlank && h < len(lines) && strings.TrimSpace(lines[h]) == "":
			lines = slices.Delete(lines, h, h+1)
		case h > 0 && h == len(lines) && prevBlank:
			lines = lines[:h-1]
		}
	}
	return lines, nil
}

type lineKind int

const (
	lineOther lineKind = iota // comment, blank or unparsable
	lineHeader
	lineKey
)

// classifyLine tells how Config::Tiny reads one line, and a header's name.
func classifyLine(line string) (lineKind, string) {
	line = strings.TrimRight(line, "\r\n")
	if tinySkip.MatchString(line) {
		return lineOther, ""
	}
	line = tinyInline.ReplaceAllString(line, "")
	if m := tinySection.FindStringSubmatch(line); m != nil {
		return lineHeader, m[1]
	}
	if tinyProperty.MatchString(line) {
		return lineKey, ""
	}
	return lineOther, ""
}

func headerLines(lines []string, block string) []int {
	var idx []int
	for i, l := range lines {
		if kind, name := classifyLine(l); kind == lineHeader && name == block {
			idx = append(idx, i)
		}
	}
	return idx
}

// splitKeepEOL splits text into lines that keep their terminators, so that
// joining them gives text back.
func splitKeepEOL(text string) []string {
	var lines []string
	start := 0
	for _, m := range tinyLineBreak.FindAllStringIndex(text, -1) {
		lines = append(lines, text[start:m[1]])
		start = m[1]
	}
	if start < len(text) {
		lines = append(lines, text[start:])
	}
	return lines
}

func detectEOL(lines []string) string {
	for _, l := range lines {
		if m := tinyLineBreak.FindString(l); m != "" {
			return m
		}
	}
	return "\n"
}

// writeAtomic replaces path with data: a temporary file in the same
// directory, same permissions and owner, synced, then renamed over path.
func writeAtomic(path string, data []byte, st os.FileInfo) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(st.Mode().Perm()); err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		_ = f.Chown(int(sys.Uid), int(sys.Gid)) // best effort: only root may give a file away
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
