package simmysql

import (
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// selectList answers a SELECT without FROM: system variables, literals and
// the few functions gomha calls (SLEEP, the advisory locks,
// CONNECTION_ID).
func (c *session) selectList(query, rest string) (*mysql.Result, error) {
	if strings.Contains(strings.ToUpper(rest), " FROM ") {
		return nil, c.unknown(query)
	}
	t := &table{}
	var row []*string
	for _, item := range splitTop(rest) {
		text, alias := splitAlias(item)
		col, val, ok := c.eval(text)
		if !ok {
			return nil, c.unknown(query)
		}
		col.name = text
		if alias != "" {
			col.name = alias
		}
		t.cols = append(t.cols, col)
		row = append(row, val)
	}
	t.add(row...)
	return t.result(), nil
}

// splitAlias splits "expr AS name".
func splitAlias(item string) (text, alias string) {
	i := strings.LastIndex(strings.ToUpper(item), " AS ")
	if i < 0 {
		return item, ""
	}
	a := strings.Trim(strings.TrimSpace(item[i+4:]), "`")
	if a == "" || strings.ContainsAny(a, "()'\" ") {
		return item, ""
	}
	return strings.TrimSpace(item[:i]), a
}

// eval computes one select item; ok is false for what is not simulated.
func (c *session) eval(text string) (column, *string, bool) {
	if strings.HasPrefix(text, "@@") {
		return c.srv.variable(text[2:], text)
	}
	if _, err := strconv.ParseUint(text, 10, 64); err == nil {
		return intExpr(text, mysql.MYSQL_TYPE_LONG, flagNotNull, uint32(len(text))), sp(text), true
	}
	open := strings.IndexByte(text, '(')
	if open <= 0 || !strings.HasSuffix(text, ")") {
		return column{}, nil, false
	}
	fn := strings.ToUpper(strings.TrimSpace(text[:open]))
	var args []string
	if inner := strings.TrimSpace(text[open+1 : len(text)-1]); inner != "" {
		args = splitTop(inner)
	}
	long := func(flag uint16, length uint32, v *string) (column, *string, bool) {
		return intExpr(text, mysql.MYSQL_TYPE_LONG, flag, length), v, true
	}
	id := c.connID()
	switch {
	case fn == "CONNECTION_ID" && len(args) == 0:
		return long(flagNotNull|flagUnsigned, 10, sp(strconv.FormatUint(uint64(id), 10)))
	case fn == "UNIX_TIMESTAMP" && len(args) == 0:
		return intExpr(text, mysql.MYSQL_TYPE_LONGLONG, flagNotNull|flagUnsigned, 11), sp(strconv.FormatInt(time.Now().Unix(), 10)), true
	case fn == "SLEEP" && len(args) == 1:
		secs, err := strconv.ParseFloat(args[0], 64)
		if err != nil || secs < 0 {
			return column{}, nil, false
		}
		r := "0"
		if c.sleep(time.Duration(secs * float64(time.Second))) {
			r = "1"
		}
		return long(flagNotNull, 1, sp(r))
	}
	if len(args) == 0 {
		return column{}, nil, false
	}
	name, ok := unquote(args[0])
	if !ok {
		return column{}, nil, false
	}
	switch {
	case fn == "GET_LOCK" && len(args) == 2:
		secs, err := strconv.ParseFloat(args[1], 64)
		if err != nil {
			return column{}, nil, false
		}
		return long(0, 1, sp(strconv.Itoa(c.getLock(name, time.Duration(secs*float64(time.Second))))))
	case fn == "RELEASE_LOCK" && len(args) == 1:
		switch c.srv.unlock(name, id) {
		case 1:
			return long(0, 1, sp("1"))
		case 0:
			return long(0, 1, sp("0"))
		}
		return long(0, 1, nil)
	case fn == "IS_USED_LOCK" && len(args) == 1:
		if h := c.srv.lockHolder(name); h != 0 {
			return long(0, 10, sp(strconv.FormatUint(uint64(h), 10)))
		}
		return long(0, 10, nil)
	case fn == "IS_FREE_LOCK" && len(args) == 1:
		if c.srv.lockHolder(name) == 0 {
			return long(0, 1, sp("1"))
		}
		return long(0, 1, sp("0"))
	}
	return column{}, nil, false
}

// getLock is GET_LOCK(name, timeout): 1 taken, 0 still held by another
// connection when the timeout ran out.
func (c *session) getLock(name string, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		if c.srv.lock(name, c.connID()) == 1 {
			return 1
		}
		if !time.Now().Before(deadline) {
			return 0
		}
		select {
		case <-c.done:
			return 0
		case <-time.After(10 * time.Millisecond):
		}
	}
}
