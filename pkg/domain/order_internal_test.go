package domain

import (
	"strings"
	"testing"

	"github.com/tenantctl/tenantctl/internal/testdb"
)

// TestCenterOrderUsesNameIndex: ordering centers by name, either way, is
// served by the unique index on lower(name) (the id tiebreak comes
// presorted by it, never as a full sort), among enough centers that the
// planner has a choice.
func TestCenterOrderUsesNameIndex(t *testing.T) {
	t.Parallel()
	d := testdb.New(t)
	ctx := t.Context()
	if _, err := d.Pool.Exec(ctx, `
INSERT INTO public.centers (name) SELECT format('Center %s', md5(i::text)) FROM generate_series(1, 5000) i;
ANALYZE public.centers`); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"", "name", "-name"} {
		var f fieldErrors
		q := listQuery{from: "public.centers", cols: centerCols}
		q.where("is_active")
		sql := "EXPLAIN " + q.pageSQL(centerOrder.clause(o, &f), 50, 0)
		rows, err := d.Pool.Query(ctx, sql, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, "centers_name_key") {
			t.Errorf("ordering %q: the plan does not use centers_name_key:\n%s", o, text)
		}
	}
}
