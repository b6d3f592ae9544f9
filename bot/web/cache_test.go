package web

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xstatusbot/xstatusbot/bot"
)

type oneBoard struct{ p atomic.Pointer[bot.Board] }

func (o *oneBoard) Board() *bot.Board { return o.p.Load() }

// A crowd on one board costs one rendering per answer; a new board, one more.
func TestCacheRendersOncePerBoard(t *testing.T) {
	src := &oneBoard{}
	src.p.Store(&bot.Board{})
	p := &page{boards: src}
	var renders atomic.Int32
	render := func(*bot.Board) ([]byte, error) {
		renders.Add(1)
		return []byte("x"), nil
	}
	crowd := func() {
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() { p.get(key{kind: "html", lang: "en"}, render) })
		}
		wg.Wait()
	}
	crowd()
	if n := renders.Load(); n != 1 {
		t.Fatalf("%d renderings for one board, want 1", n)
	}
	p.get(key{kind: "html", lang: "fr"}, render)
	if n := renders.Load(); n != 2 {
		t.Fatalf("%d renderings after a second language, want 2", n)
	}
	src.p.Store(&bot.Board{})
	crowd()
	if n := renders.Load(); n != 3 {
		t.Fatalf("%d renderings after a new board, want 3", n)
	}
	if len(p.out) != 1 {
		t.Fatalf("%d answers kept, the old board's should be gone", len(p.out))
	}
}
