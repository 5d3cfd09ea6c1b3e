package haproxy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/edge"
)

// ParseStats reads HAProxy's stats CSV ("show stat", /haproxy?stats;csv):
// the "# pxname,svname,…" header then one row per proxy and server. Rows
// keep the columns of edge.StatColumns as Raw (when the header starts
// with them, as HAProxy 2.6's does; the statistics modules' extra columns
// are dropped) and their typed fields. A malformed row is skipped and
// named in the error; the others are returned.
func ParseStats(s string) ([]edge.StatRow, error) {
	head, body, ok := strings.Cut(s, "\n")
	if !ok || !strings.HasPrefix(head, "# ") {
		return nil, errors.New("stats: no \"# pxname,…\" header line")
	}
	cols := strings.Split(strings.TrimSuffix(strings.TrimPrefix(head, "# "), ","), ",")
	idx := map[string]int{}
	for i, c := range cols {
		idx[c] = i
	}
	if _, ok := idx["pxname"]; !ok {
		return nil, errors.New("stats: header has no pxname column")
	}
	if _, ok := idx["svname"]; !ok {
		return nil, errors.New("stats: header has no svname column")
	}
	standard := len(cols) >= len(edge.StatColumns)
	for i, c := range edge.StatColumns {
		if standard && cols[i] != c {
			standard = false
		}
	}
	r := csv.NewReader(strings.NewReader(body))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	var rows []edge.StatRow
	var errs []error
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("stats line %d: %w", line, err))
			continue
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		if len(rec) < len(cols) {
			errs = append(errs, fmt.Errorf("stats line %d: %d fields, the header has %d", line, len(rec), len(cols)))
			continue
		}
		get := func(c string) string {
			if i, ok := idx[c]; ok {
				return rec[i]
			}
			return ""
		}
		num := func(c string) int64 {
			n, _ := strconv.ParseInt(get(c), 10, 64)
			return n
		}
		row := edge.StatRow{PxName: get("pxname"), SvName: get("svname"), Type: int(num("type")),
			Qcur: num("qcur"), Qmax: num("qmax"), Scur: num("scur"), Smax: num("smax"), Slim: num("slim"),
			Stot: num("stot"), Bin: num("bin"), Bout: num("bout"), Ereq: num("ereq"), Econ: num("econ"),
			Eresp: num("eresp"), Status: get("status"), Weight: num("weight"), Act: num("act"), Bck: num("bck"),
			Hrsp: [6]int64{num("hrsp_1xx"), num("hrsp_2xx"), num("hrsp_3xx"), num("hrsp_4xx"), num("hrsp_5xx"),
				num("hrsp_other")},
			ReqTot: num("req_tot"), CheckStatus: get("check_status"), Addr: get("addr"), Mode: get("mode")}
		if standard {
			row.Raw = rec[:len(edge.StatColumns):len(edge.StatColumns)]
		}
		rows = append(rows, row)
	}
	return rows, errors.Join(errs...)
}
