package admin

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/tenantctl/tenantctl/internal/text"
	"github.com/tenantctl/tenantctl/pkg/domain"
)

// chart is a horizontal bar chart, laid out here and drawn as SVG by the
// "chart" template, so that html/template escapes its labels (sample
// types are user text) like anything else on the page.
type chart struct {
	Title, Summary string
	Total          int
	Width, Height  int
	Bars           []chartBar
}

type chartBar struct {
	Label, Class  string
	Value         int
	X, Y, W, H    int
	TextY, ValueX int
}

// The chart's geometry, in SVG user units (the SVG scales to its box).
const (
	chartWidth  = 400
	chartLabelW = 110 // labels are cut to fit
	chartBarMax = 240
	chartRow    = 26
	chartBarH   = 18
	chartLabel  = 14 // bytes of a label before it is cut
)

type datum struct {
	label, class string
	value        int
}

func newChart(title string, data []datum) chart {
	c := chart{Title: title, Width: chartWidth, Height: len(data) * chartRow}
	peak := 0
	parts := make([]string, 0, len(data))
	for _, d := range data {
		c.Total += d.value
		peak = max(peak, d.value)
		parts = append(parts, fmt.Sprintf("%s %d", d.label, d.value))
	}
	c.Summary = title + ": " + strings.Join(parts, ", ")
	for i, d := range data {
		w := 0
		if peak > 0 {
			w = d.value * chartBarMax / peak
		}
		if d.value > 0 {
			w = max(w, 2) // a non-zero count stays visible
		}
		y := i * chartRow
		c.Bars = append(c.Bars, chartBar{Label: text.Truncate(d.label, chartLabel), Class: d.class, Value: d.value,
			X: chartLabelW, Y: y + (chartRow-chartBarH)/2, W: w, H: chartBarH,
			TextY: y + chartRow/2, ValueX: chartLabelW + w + 6})
	}
	return c
}

// charts are the statistics' charts, on the dashboard and a center's page
// alike: samples by status and by type, users by role.
func charts(s domain.SampleStats, u domain.UserStats) []chart {
	return []chart{statusChart(s.ByStatus), typeChart(s.ByType), roleChart(u.ByRole)}
}

// statusChart draws samples by status, in the lifecycle's order.
func statusChart(by map[domain.Status]int) chart {
	var data []datum
	for _, s := range domain.Statuses {
		data = append(data, datum{string(s), string(s), by[s]})
	}
	return newChart("Samples by status", data)
}

// roleChart draws users by role.
func roleChart(by map[domain.Role]int) chart {
	var data []datum
	for _, r := range domain.Roles {
		data = append(data, datum{string(r), "", by[r]})
	}
	return newChart("Users by role", data)
}

// typeChart draws samples by type, the commonest first.
func typeChart(by map[string]int) chart {
	data := make([]datum, 0, len(by))
	for t, n := range by {
		data = append(data, datum{label: t, value: n})
	}
	slices.SortFunc(data, func(a, b datum) int {
		return cmp.Or(cmp.Compare(b.value, a.value), strings.Compare(a.label, b.label))
	})
	for i := range data {
		data[i].class = fmt.Sprintf("c%d", i%8)
	}
	return newChart("Samples by type", data)
}
