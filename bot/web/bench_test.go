package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/xstatusbot/xstatusbot/bot/web"
)

// BenchmarkPage sends / and /api/status alternately at 1,000 requests/s for
// 10 s (open loop: a slow answer does not slow the sender) while a goroutine
// writes a real SQLite database as fast as it can, standing for a fan-out,
// and a new board is published every second (a round every second, more
// often than any schedule). It reports latency percentiles and errors.
//
//	go test -run '^$' -bench Page -benchtime 1x ./bot/web
func BenchmarkPage(b *testing.B) {
	const rate, seconds = 1000, 10
	bs := &boards{}
	bs.p.Store(outageBoard())
	srv := httptest.NewServer(web.Page(bs, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	db, err := sql.Open("sqlite", filepath.Join(b.TempDir(), "load.db")+"?_pragma=journal_mode(wal)&_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE outbox (id INTEGER PRIMARY KEY, chat TEXT, body TEXT, sent_at INTEGER)`); err != nil {
		b.Fatal(err)
	}

	for range b.N {
		ctx, stop := context.WithCancel(context.Background())
		var load sync.WaitGroup
		var rows atomic.Int64
		load.Go(func() {
			for ctx.Err() == nil {
				if err := fanOut(db, 200); err != nil {
					b.Error(err)
					return
				}
				rows.Add(200)
			}
		})
		load.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					bs.p.Store(outageBoard())
				}
			}
		})

		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
		n := rate * seconds
		lat := make([]time.Duration, n)
		var errs atomic.Int64
		var lag time.Duration
		var reqs sync.WaitGroup
		start := time.Now()
		for i := range n {
			due := start.Add(time.Duration(i) * time.Second / rate)
			if d := time.Until(due); d > 0 {
				time.Sleep(d) // pacing the sender, not waiting for a result
			}
			lag = max(lag, time.Since(due))
			reqs.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+[]string{"/", "/api/status"}[i%2], nil)
				req.Header.Set("Accept-Language", []string{"en-GB", "", "fr-FR,fr;q=0.9", ""}[i%4])
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat[i] = time.Since(t0)
				if err != nil {
					errs.Add(1)
				}
			})
		}
		reqs.Wait()
		elapsed := time.Since(start)
		stop()
		load.Wait()
		client.CloseIdleConnections()

		slices.Sort(lat)
		pct := func(p float64) float64 { return float64(lat[int(p*float64(n-1))]) / float64(time.Millisecond) }
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(float64(lat[n-1])/float64(time.Millisecond), "max-ms")
		b.ReportMetric(float64(errs.Load()), "errors")
		b.Logf("%d requests in %s (sender at most %s behind schedule), %d errors; p50 %.2f ms, p99 %.2f ms, max %.2f ms; %d SQLite rows written meanwhile",
			n, elapsed.Round(time.Millisecond), lag.Round(time.Millisecond), errs.Load(), pct(0.50), pct(0.99), float64(lat[n-1])/float64(time.Millisecond), rows.Load())
	}
}

// fanOut writes one batch of outbox rows in a transaction, as delivery does.
func fanOut(db *sql.DB, rows int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i := range rows {
		if _, err := tx.Exec(`INSERT INTO outbox (chat, body, sent_at) VALUES (?, ?, ?)`,
			fmt.Sprint("chat-", i), "🔴 X is down since 14:15 UTC; api.x.com: HTTP 502", time.Now().UnixNano()); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	if _, err := tx.Exec(`UPDATE outbox SET sent_at = ? WHERE id % 7 = 0 AND id > (SELECT max(id) - 2000 FROM outbox)`, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return tx.Commit()
}
