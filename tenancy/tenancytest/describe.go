package tenancytest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantctl/tenantctl/tenancy"
)

// DescribeSchema returns tenancy.DescribeSchema of schema, and a line per
// sequence with its position: what a copy of schema shares with it, rows
// aside (DescribeData).
func DescribeSchema(tb testing.TB, pool *pgxpool.Pool, schema string) []string {
	tb.Helper()
	var lines []string
	err := pgx.BeginFunc(tb.Context(), pool, func(tx pgx.Tx) error {
		var err error
		if lines, err = tenancy.DescribeSchema(tb.Context(), tx, schema); err != nil {
			return err
		}
		rows, err := tx.Query(tb.Context(), "SELECT format('sequence %I last=%s', sequencename, last_value) FROM pg_sequences WHERE schemaname = $1", schema)
		if err != nil {
			return err
		}
		positions, err := pgx.CollectRows(rows, pgx.RowTo[string])
		lines = append(lines, positions...)
		return err
	})
	if err != nil {
		tb.Fatalf("tenancytest: describe schema %s: %v", schema, err)
	}
	slices.Sort(lines)
	return lines
}

// DescribeData returns, for each table of schema in name order, its row
// count and the MD5 of its rows' text, sorted: equal for two schemas
// whose tables hold the same rows, column for column.
func DescribeData(tb testing.TB, pool *pgxpool.Pool, schema string) []string {
	tb.Helper()
	ctx := tb.Context()
	rows, err := pool.Query(ctx, `SELECT relname::text FROM pg_class
WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND relkind = 'r' ORDER BY relname COLLATE "C"`, schema)
	if err != nil {
		tb.Fatalf("tenancytest: describe data %s: %v", schema, err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("tenancytest: describe data %s: %v", schema, err)
	}
	out := make([]string, len(tables))
	for i, t := range tables {
		var count int64
		var sum string
		err := pool.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(r::text, E'\n' ORDER BY r::text COLLATE "C")), '') FROM `+
			pgx.Identifier{schema, t}.Sanitize()+" r").Scan(&count, &sum)
		if err != nil {
			tb.Fatalf("tenancytest: describe data %s.%s: %v", schema, t, err)
		}
		out[i] = fmt.Sprintf("%s rows=%d md5=%s", t, count, sum)
	}
	return out
}
