package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// tableSum is what is compared of one table: CHECKSUM TABLE and COUNT(*).
type tableSum struct {
	Checksum string
	Rows     int64
}

// tableSums reads the sums of every base table of TestDatabase.
func tableSums(ctx context.Context, db *sql.DB, h Host) (map[string]tableSum, error) {
	rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA=? AND TABLE_TYPE='BASE TABLE' ORDER BY TABLE_NAME /* gomha verify */", TestDatabase)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s on %s: %w", TestDatabase, h.label(), err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables of %s on %s: %w", TestDatabase, h.label(), err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables of %s on %s: %w", TestDatabase, h.label(), err)
	}
	out := make(map[string]tableSum, len(names))
	for _, n := range names {
		q := "`" + TestDatabase + "`.`" + strings.ReplaceAll(n, "`", "``") + "`"
		var s tableSum
		var name string
		var sum sql.NullString
		if err := db.QueryRowContext(ctx, "CHECKSUM TABLE "+q+" EXTENDED /* gomha verify */").Scan(&name, &sum); err != nil {
			return nil, fmt.Errorf("checksum %s.%s on %s: %w", TestDatabase, n, h.label(), err)
		}
		s.Checksum = sum.String
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+q+" /* gomha verify */").Scan(&s.Rows); err != nil {
			return nil, fmt.Errorf("count rows of %s.%s on %s: %w", TestDatabase, n, h.label(), err)
		}
		out[n] = s
	}
	return out, nil
}

// diffSums lists how replica r differs from master m, one line per table.
func diffSums(m, r Host, ms, rs map[string]tableSum) []string {
	names := map[string]bool{}
	for n := range ms {
		names[n] = true
	}
	for n := range rs {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []string
	for _, n := range sorted {
		a, inM := ms[n]
		b, inR := rs[n]
		t := TestDatabase + "." + n
		switch {
		case !inR:
			out = append(out, fmt.Sprintf("%s: table %s exists on master %s but not on %s", r.label(), t, m.label(), r.label()))
		case !inM:
			out = append(out, fmt.Sprintf("%s: table %s exists on %s but not on master %s", r.label(), t, r.label(), m.label()))
		case a != b:
			out = append(out, fmt.Sprintf("%s: table %s has checksum %s and %d rows, master %s has checksum %s and %d rows",
				r.label(), t, b.Checksum, b.Rows, m.label(), a.Checksum, a.Rows))
		}
	}
	return out
}

// compareTables compares the sums of every replica with the master's.
func (c *Cluster) compareTables(ctx context.Context, m Host, mdb *sql.DB, replicas []Host) error {
	ms, err := tableSums(ctx, mdb, m)
	if err != nil {
		return err
	}
	var diffs []string
	for _, r := range replicas {
		db, err := c.DB(ctx, r.Name)
		if err != nil {
			return err
		}
		rs, err := tableSums(ctx, db, r)
		db.Close()
		if err != nil {
			return err
		}
		diffs = append(diffs, diffSums(m, r, ms, rs)...)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("verify replicas of %s: %w:\n\t%s", m.label(), ErrDataDiffers, strings.Join(diffs, "\n\t"))
	}
	return nil
}

// VerifyAcked checks that every id of acked is in table (schema.table, or a
// table of TestDatabase) on host, and names the missing ones (at most 20,
// with their count).
func (c *Cluster) VerifyAcked(ctx context.Context, host string, table string, acked []int64) error {
	h, err := c.Host(host)
	if err != nil {
		return err
	}
	schema, tbl, err := splitTable(table)
	if err != nil {
		return err
	}
	db, err := c.DB(ctx, h.Name)
	if err != nil {
		return fmt.Errorf("verify acknowledged writes on %s: %w", h.label(), err)
	}
	defer db.Close()
	present := make(map[int64]bool, len(acked))
	for start := 0; start < len(acked); start += ackedChunk {
		chunk := acked[start:min(start+ackedChunk, len(acked))]
		q := "SELECT id FROM `" + schema + "`.`" + tbl + "` WHERE id IN (?" +
			strings.Repeat(", ?", len(chunk)-1) + ") /* gomha verify */"
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		if err := scanIDs(ctx, db, q, args, present); err != nil {
			return fmt.Errorf("read acknowledged ids from %s.%s on %s: %w", schema, tbl, h.label(), err)
		}
	}
	if missing := missingIDs(acked, present); len(missing) > 0 {
		return fmt.Errorf("%s: %w: %d of %d acknowledged ids are not in %s.%s: %s",
			h.label(), ErrAckedMissing, len(missing), len(acked), schema, tbl, listIDs(missing, maxListedIDs))
	}
	return nil
}

func scanIDs(ctx context.Context, db *sql.DB, q string, args []any, into map[int64]bool) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		into[id] = true
	}
	return rows.Err()
}

// missingIDs returns the ids of acked not in present, in acked order, once each.
func missingIDs(acked []int64, present map[int64]bool) []int64 {
	var out []int64
	seen := map[int64]bool{}
	for _, id := range acked {
		if !present[id] && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// listIDs formats at most n ids, saying how many more there are.
func listIDs(ids []int64, n int) string {
	parts := make([]string, 0, min(n, len(ids)))
	for _, id := range ids[:min(n, len(ids))] {
		parts = append(parts, fmt.Sprint(id))
	}
	s := strings.Join(parts, ", ")
	if len(ids) > n {
		s += fmt.Sprintf(" and %d more", len(ids)-n)
	}
	return s
}
