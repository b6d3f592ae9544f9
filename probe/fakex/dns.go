package fakex

import (
	"context"
	"net"
)

// NXDomain is a DNS server on 127.0.0.1 that answers every query with "no
// such host", so DNS failures are tested without asking the network's resolver.
type NXDomain struct {
	conn net.PacketConn
}

// NewNXDomain starts the server on 127.0.0.1, as httptest.NewServer does: it
// panics if it cannot listen. Close it when done.
func NewNXDomain() *NXDomain {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic("fakex: listen on 127.0.0.1: " + err.Error())
	}
	go serveNXDomain(conn)
	return &NXDomain{conn: conn}
}

func serveNXDomain(conn net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		resp := append([]byte(nil), buf[:n]...)
		resp[2] = 0x80 | (buf[2] & 0x79) // QR, keep opcode and RD
		resp[3] = 0x80 | 0x03            // RA, RCODE 3 = NXDOMAIN
		// No answers, authority or additional records (drops any EDNS OPT).
		for i := 6; i < 12; i++ {
			resp[i] = 0
		}
		_, _ = conn.WriteTo(resp, addr)
	}
}

// Resolver returns a resolver that asks only this server.
func (d *NXDomain) Resolver() *net.Resolver {
	addr := d.conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", addr)
	}}
}

// Close stops the server.
func (d *NXDomain) Close() { _ = d.conn.Close() }
