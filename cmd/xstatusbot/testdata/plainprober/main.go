// Command plainprober is BenchmarkFootprint's reference: a plain HTTP prober
// as small as one can write, probing each URL given as an argument every
// second and printing a line when one starts or stops failing. It stands in
// for Gatus, which cannot be downloaded where the benchmark runs: one
// http.Client with Go's default transport (connections kept alive, as
// Gatus's are), a 900 ms timeout, each URL in its own goroutine, the body
// read and dropped. It stores nothing and alerts no one.
//
// It lives under testdata so that ./... leaves it out; the benchmark builds it.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	client := &http.Client{Timeout: 900 * time.Millisecond}
	for _, u := range os.Args[1:] {
		go probe(client, u)
	}
	select {}
}

func probe(client *http.Client, url string) {
	failing := false
	for range time.Tick(time.Second) {
		ok := false
		if resp, err := client.Get(url); err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 256<<10))
			resp.Body.Close()
			ok = err == nil && resp.StatusCode < 400
		}
		if ok == failing {
			failing = !ok
			fmt.Printf("%s %s failing=%t\n", time.Now().Format(time.RFC3339), url, failing)
		}
	}
}
