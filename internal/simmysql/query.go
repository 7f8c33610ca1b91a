package simmysql

import (
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// answer runs one statement.
func (c *session) answer(query string) (*mysql.Result, error) {
	q := normalize(query)
	u := strings.ToUpper(q)
	word := func(prefix string) (string, bool) {
		if u == prefix {
			return "", true
		}
		if strings.HasPrefix(u, prefix+" ") {
			return q[len(prefix)+1:], true
		}
		return "", false
	}
	if q == "" {
		return nil, mysql.NewDefaultError(mysql.ER_EMPTY_QUERY)
	}
	if _, ok := word("SET"); ok {
		return nil, nil // session variables: accepted, without effect
	}
	if _, ok := word("USE"); ok {
		return nil, nil
	}
	if rest, ok := word("SELECT"); ok {
		return c.selectList(query, rest)
	}
	switch u {
	case "SHOW MASTER STATUS", "SHOW BINLOG STATUS":
		return c.srv.masterStatus().result(), nil
	case "SHOW SLAVE STATUS", "SHOW REPLICA STATUS":
		return c.srv.slaveStatus().result(), nil
	}
	for _, p := range []string{"SHOW GLOBAL STATUS", "SHOW SESSION STATUS", "SHOW STATUS"} {
		if rest, ok := word(p); ok {
			return c.show(query, rest, c.srv.statusVars())
		}
	}
	for _, p := range []string{"SHOW GLOBAL VARIABLES", "SHOW SESSION VARIABLES", "SHOW VARIABLES"} {
		if rest, ok := word(p); ok {
			return c.show(query, rest, c.srv.showVariables())
		}
	}
	if rest, ok := word("KILL CONNECTION"); ok {
		return c.kill(query, rest)
	}
	if rest, ok := word("KILL"); ok && !strings.HasPrefix(strings.ToUpper(rest), "QUERY") {
		return c.kill(query, rest)
	}
	if insertPing(u) {
		return &mysql.Result{AffectedRows: 1}, nil
	}
	return nil, c.unknown(query)
}

// insertPing says whether u is one of the statements of ping_type=INSERT.
func insertPing(u string) bool {
	return u == "CREATE DATABASE IF NOT EXISTS INFRA" ||
		strings.HasPrefix(u, "CREATE TABLE IF NOT EXISTS INFRA.CHK_MASTERHA ") ||
		strings.HasPrefix(u, "INSERT INTO INFRA.CHK_MASTERHA ")
}

// kill is KILL [CONNECTION] id: the connection is closed.
func (c *session) kill(query, rest string) (*mysql.Result, error) {
	id, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 32)
	if err != nil {
		return nil, c.unknown(query)
	}
	if !c.srv.killConn(uint32(id)) {
		return nil, mysql.NewDefaultError(mysql.ER_NO_SUCH_THREAD, id)
	}
	return nil, nil
}

// show answers SHOW STATUS and SHOW VARIABLES, with or without LIKE 'x' or
// WHERE Variable_name IN ('a', ...) / = 'a'.
func (c *session) show(query, rest string, vars []nameValue) (*mysql.Result, error) {
	match, ok := showFilter(rest)
	if !ok {
		return nil, c.unknown(query)
	}
	t := &table{cols: statusColumns}
	for _, v := range vars {
		if match(v.name) {
			t.add(sp(v.name), sp(v.value))
		}
	}
	return t.result(), nil
}

// nameValue is one row of SHOW STATUS or SHOW VARIABLES.
type nameValue struct{ name, value string }

// showFilter parses a SHOW's filter.
func showFilter(rest string) (func(string) bool, bool) {
	rest = strings.TrimSpace(rest)
	u := strings.ToUpper(rest)
	switch {
	case rest == "":
		return func(string) bool { return true }, true
	case strings.HasPrefix(u, "LIKE "):
		pat, ok := unquote(strings.TrimSpace(rest[5:]))
		return func(n string) bool { return like(strings.ToLower(n), strings.ToLower(pat)) }, ok
	case strings.HasPrefix(u, "WHERE VARIABLE_NAME = "):
		name, ok := unquote(strings.TrimSpace(rest[len("WHERE VARIABLE_NAME = "):]))
		return func(n string) bool { return strings.EqualFold(n, name) }, ok
	case strings.HasPrefix(u, "WHERE VARIABLE_NAME IN (") && strings.HasSuffix(rest, ")"):
		set := map[string]bool{}
		for _, item := range splitTop(rest[len("WHERE VARIABLE_NAME IN (") : len(rest)-1]) {
			name, ok := unquote(item)
			if !ok {
				return nil, false
			}
			set[strings.ToLower(name)] = true
		}
		return func(n string) bool { return set[strings.ToLower(n)] }, true
	}
	return nil, false
}

// like matches SQL LIKE patterns (% and _), on lower-cased strings.
func like(s, pat string) bool {
	if pat == "" {
		return s == ""
	}
	switch pat[0] {
	case '%':
		for i := 0; i <= len(s); i++ {
			if like(s[i:], pat[1:]) {
				return true
			}
		}
		return false
	case '_':
		return s != "" && like(s[1:], pat[1:])
	}
	return s != "" && s[0] == pat[0] && like(s[1:], pat[1:])
}

// normalize strips /* */ comments outside quotes, collapses white space
// and drops a trailing ';'.
func normalize(q string) string {
	var b strings.Builder
	var quote byte
	space := false
	for i := 0; i < len(q); i++ {
		ch := q[i]
		switch {
		case quote != 0:
			b.WriteByte(ch)
			if ch == '\\' && i+1 < len(q) {
				i++
				b.WriteByte(q[i])
			} else if ch == quote {
				quote = 0
			}
			continue
		case ch == '/' && i+1 < len(q) && q[i+1] == '*':
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				i = len(q)
			} else {
				i += end + 3
			}
			space = true
			continue
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			space = true
			continue
		case ch == '\'' || ch == '"' || ch == '`':
			quote = ch
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(ch)
	}
	return strings.TrimSuffix(strings.TrimSpace(b.String()), ";")
}

// splitTop splits s on commas outside quotes and parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"' || ch == '`':
			quote = ch
		case ch == '(':
			depth++
		case ch == ')':
			depth--
		case ch == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// unquote reads a quoted SQL string ('x' or "x", with \ escapes and doubled
// quotes).
func unquote(s string) (string, bool) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return "", false
	}
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s)-1:
			i++
			b.WriteByte(s[i])
		case ch == q && i+1 < len(s)-1 && s[i+1] == q:
			i++
			b.WriteByte(q)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String(), true
}
