package mongotest

import (
	"fmt"
	"net"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FaultAction is what a TxnProxy does to one command (see TxnProxy.Inject).
type FaultAction int

// The faults.
const (
	// DropReply forwards the command, so the server applies it, and then closes the driver's
	// connection instead of answering: the driver sees a network error on a write that was
	// made. A retryable write (one with a txnNumber outside a transaction) sent again on the same
	// session and txnNumber is answered with the reply that was dropped, without going to the
	// server again, as a MongoDB replica set answers a retried write it has executed already.
	DropReply FaultAction = iota + 1
	// RetryableError answers without forwarding: the command is refused with NotWritablePrimary
	// and the RetryableWriteError label, as by a primary stepping down, and nothing is applied.
	RetryableError
	// WriteConcernError forwards the command, so the server applies it, and adds to its reply a
	// writeConcernError (WriteConcernFailed, wtimeout): the write was made, its majority not
	// confirmed.
	WriteConcernError
)

// Fault names the Nth command called Command, counted from the Inject call (1: the next one),
// and what to do to it.
type Fault struct {
	Command string
	Nth     int
	Action  FaultAction
}

// fault is an injected Fault and how many of its commands have passed.
type fault struct {
	Fault
	seen int
}

// Inject arms f. Faults are matched in the order they were injected; each fires once.
func (p *TxnProxy) Inject(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &fault{Fault: f})
}

// Fired reports how many injected faults have fired so far.
func (p *TxnProxy) Fired() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fired
}

// Stall makes the proxy stop answering: every command from now on waits, unanswered and not
// forwarded, until Resume (or the end of the test), as behind a server or a network that hangs.
func (p *TxnProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled == nil {
		p.stalled = make(chan struct{})
	}
}

// Resume answers again after Stall; the commands that waited go on.
func (p *TxnProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
}

// wait blocks while the proxy is stalled.
func (p *TxnProxy) wait() {
	p.mu.Lock()
	ch := p.stalled
	p.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// take counts cmd against the armed faults and returns the one that fires on it, if any.
func (p *TxnProxy) take(cmd Command) FaultAction {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.faults {
		if f.Command != cmd.Name {
			continue
		}
		f.seen++
		if f.seen == f.Nth {
			p.faults = append(p.faults[:i:i], p.faults[i+1:]...)
			p.fired++
			return f.Action
		}
	}
	return 0
}

// retryKey names a retryable write: its session and transaction number; "" for any other
// command.
func retryKey(cmd Command) string {
	if cmd.TxnNumber == 0 || cmd.Autocommit || cmd.LSID == "" {
		return ""
	}
	return fmt.Sprintf("%s/%d", cmd.LSID, cmd.TxnNumber)
}

// replayed answers a retried write whose first reply was dropped with that reply.
func (p *TxnProxy) replayed(client net.Conn, h msgHeader, cmd Command) (bool, error) {
	key := retryKey(cmd)
	if key == "" {
		return false, nil
	}
	p.mu.Lock()
	body, ok := p.dropped[key]
	p.mu.Unlock()
	if !ok {
		return false, nil
	}
	_, err := client.Write(buildMsg(h.requestID+1<<20, h.requestID, 0, body, nil))
	return true, err
}

// keepDropped remembers the reply of a retryable write that DropReply did not deliver.
func (p *TxnProxy) keepDropped(cmd Command, reply []byte) error {
	key := retryKey(cmd)
	if key == "" {
		return nil
	}
	_, body, _, err := splitMsg(reply)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropped == nil {
		p.dropped = map[string]bson.Raw{}
	}
	p.dropped[key] = append(bson.Raw(nil), body...)
	return nil
}

// refusal is the reply of RetryableError.
func refusal(h msgHeader) []byte {
	doc, _ := bson.Marshal(bson.D{
		{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "not primary (injected)"},
		{Key: "code", Value: int32(10107)}, {Key: "codeName", Value: "NotWritablePrimary"},
		{Key: "errorLabels", Value: bson.A{"RetryableWriteError"}},
	})
	return buildMsg(h.requestID+1<<20, h.requestID, 0, doc, nil)
}

// withWriteConcernError adds a writeConcernError to a command's reply.
func withWriteConcernError(reply []byte) ([]byte, error) {
	h := header(reply)
	_, body, rest, err := splitMsg(reply)
	if err != nil {
		return nil, err
	}
	var d bson.D
	if err := bson.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("decode reply: %w", err)
	}
	d = append(d, bson.E{Key: "writeConcernError", Value: bson.D{
		{Key: "code", Value: int32(64)}, {Key: "codeName", Value: "WriteConcernFailed"},
		{Key: "errmsg", Value: "waiting for replication timed out (injected)"},
		{Key: "errInfo", Value: bson.D{{Key: "wtimeout", Value: true}}},
	}})
	out, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode reply: %w", err)
	}
	return buildMsg(h.requestID, h.responseTo, 0, out, rest), nil
}
