package mongotest

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Wire protocol opcodes the proxy reads.
const (
	opReply = 1
	opQuery = 2004
	opMsg   = 2013
)

// OP_MSG flag bits.
const (
	flagChecksum   = 1 << 0
	flagMoreToCome = 1 << 1
)

// Command is one command the driver sent through a TxnProxy, with its session and transaction
// fields as the driver sent them.
type Command struct {
	Name string
	// LSID is the hex of the session id (lsid.id); empty when the command named no session.
	LSID string
	// TxnNumber is the transaction number; 0 outside a transaction.
	TxnNumber int64
	// StartTransaction is set on the first command of a transaction.
	StartTransaction bool
	// Autocommit is set when the command carried autocommit (false in a transaction).
	Autocommit bool
}

// TxnProxy sits between the driver and the embedded FerretDB, which has no multi-document
// transactions, and makes the server look like the primary of a one-member replica set, so that
// the driver lets a session run transactions: it adds setName, hosts and a session timeout to
// every hello, drops the transaction fields (txnNumber, startTransaction, autocommit, the
// transaction's readConcern and any readConcern's afterClusterTime) before a command goes on to FerretDB, answers
// commitTransaction and abortTransaction itself with ok: 1, and records every command.
//
// It is also the fault injector of the tests (Inject, Stall): it can drop the reply of a
// command the server applied, refuse one as a stepping-down primary would, add a write concern
// error to a reply, or stop answering.
//
// What it shows is how the driver and the store use sessions: which commands carry a
// transaction's lsid and txnNumber, and whether a block ends with commit or abort. It cannot show
// the rollback: FerretDB applies every write at once, whatever the proxy answers to an abort.
type TxnProxy struct {
	ln       net.Listener
	upstream string

	mu   sync.Mutex
	cmds []Command
	errs []error
	// The fault injector (faults.go): armed faults, how many fired, the replies DropReply kept
	// from retryable writes, and the stall.
	faults  []*fault
	fired   int
	dropped map[string]bson.Raw
	stalled chan struct{}

	wg sync.WaitGroup
}

// NewTxnProxy starts a proxy in front of the embedded FerretDB and stops it when the test ends.
// It skips the test when CREDTRACE_TEST_MONGO_URI names another server: the proxy fakes a
// replica set only in front of one that has no transactions of its own.
func NewTxnProxy(tb testing.TB) *TxnProxy {
	tb.Helper()
	if os.Getenv(EnvURI) != "" {
		tb.Skipf("mongotest: the transaction proxy fronts only the embedded FerretDB, not %s", EnvURI)
	}
	u, err := url.Parse(URI(tb))
	if err != nil {
		tb.Fatalf("mongotest: server URI: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("mongotest: proxy listen: %v", err)
	}
	p := &TxnProxy{ln: ln, upstream: u.Host}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(func() {
		p.Resume()
		ln.Close()
		p.wg.Wait()
		for _, err := range p.errors() {
			tb.Errorf("mongotest: proxy: %v", err)
		}
	})
	return p
}

// URI is the connection string of the proxy.
func (p *TxnProxy) URI() string { return "mongodb://" + p.ln.Addr().String() + "/" }

// Commands returns the commands sent through the proxy so far, in the order they arrived.
func (p *TxnProxy) Commands() []Command {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Command(nil), p.cmds...)
}

func (p *TxnProxy) errors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs
}

func (p *TxnProxy) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, err)
}

func (p *TxnProxy) accept() {
	defer p.wg.Done()
	var conns sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	for {
		c, err := p.ln.Accept()
		if err != nil {
			break
		}
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
		conns.Add(1)
		go func() {
			defer conns.Done()
			p.serve(c, func(up net.Conn) {
				mu.Lock()
				open = append(open, up)
				mu.Unlock()
			})
		}()
	}
	mu.Lock()
	for _, c := range open {
		c.Close()
	}
	mu.Unlock()
	conns.Wait()
}

// serve relays one client connection to its own connection to FerretDB.
func (p *TxnProxy) serve(client net.Conn, track func(net.Conn)) {
	defer client.Close()
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		p.fail(fmt.Errorf("dial %s: %w", p.upstream, err))
		return
	}
	track(up)
	defer up.Close()
	for {
		req, err := readMessage(client)
		if err != nil {
			return // the driver closed the connection (or the test ended)
		}
		if err := p.relay(client, up, req); err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) && !errors.Is(err, errDropped) {
				p.fail(err)
			}
			return
		}
	}
}

// errDropped ends a connection whose reply a DropReply fault withheld.
var errDropped = errors.New("reply dropped")

// relay handles one request: answers it, or forwards it (rewritten) and the reply back.
func (p *TxnProxy) relay(client, up net.Conn, req []byte) error {
	p.wait()
	h := header(req)
	hello := false
	moreToCome := false
	var cmd Command
	var action FaultAction
	switch h.opCode {
	case opMsg:
		flags, doc, rest, err := splitMsg(req)
		if err != nil {
			return err
		}
		cmd = record(doc)
		p.mu.Lock()
		p.cmds = append(p.cmds, cmd)
		p.mu.Unlock()
		if done, err := p.replayed(client, h, cmd); done || err != nil {
			return err
		}
		switch action = p.take(cmd); action {
		case RetryableError:
			_, err := client.Write(refusal(h))
			return err
		}
		switch cmd.Name {
		case "commitTransaction", "abortTransaction":
			ok, _ := bson.Marshal(bson.D{{Key: "ok", Value: 1.0}})
			_, err := client.Write(buildMsg(h.requestID+1<<20, h.requestID, 0, ok, nil))
			return err
		case "hello", "isMaster", "ismaster":
			hello = true
		}
		stripped, err := stripTxn(doc)
		if err != nil {
			return err
		}
		moreToCome = flags&flagMoreToCome != 0
		req = buildMsg(h.requestID, h.responseTo, flags&^flagChecksum, stripped, rest)
	case opQuery:
		// The driver's first handshake on a connection: a legacy hello.
		hello = true
		if doc, ok := queryDoc(req); ok {
			p.mu.Lock()
			p.cmds = append(p.cmds, record(doc))
			p.mu.Unlock()
		}
	}
	if _, err := up.Write(req); err != nil {
		return err
	}
	if moreToCome {
		return nil
	}
	reply, err := readMessage(up)
	if err != nil {
		return err
	}
	if hello {
		if reply, err = p.asPrimary(reply); err != nil {
			return err
		}
	}
	switch action {
	case DropReply:
		if err := p.keepDropped(cmd, reply); err != nil {
			return err
		}
		return errDropped
	case WriteConcernError:
		if reply, err = withWriteConcernError(reply); err != nil {
			return err
		}
	}
	_, err = client.Write(reply)
	return err
}

// asPrimary rewrites a hello reply to describe the primary of the one-member set "rs0".
func (p *TxnProxy) asPrimary(reply []byte) ([]byte, error) {
	h := header(reply)
	var doc bson.Raw
	var prefix, rest []byte
	switch h.opCode {
	case opMsg:
		var err error
		if _, doc, rest, err = splitMsg(reply); err != nil {
			return nil, err
		}
	case opReply:
		// responseFlags, cursorID, startingFrom, numberReturned, then the documents.
		body := reply[16:]
		if len(body) < 20+5 {
			return nil, errors.New("short OP_REPLY")
		}
		prefix = body[:20]
		n := int(int32(binary.LittleEndian.Uint32(body[20:])))
		doc = bson.Raw(body[20 : 20+n])
		rest = body[20+n:]
	default:
		return reply, nil
	}
	var d bson.D
	if err := bson.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("decode hello reply: %w", err)
	}
	addr := p.ln.Addr().String()
	set := map[string]any{
		"setName": "rs0", "hosts": bson.A{addr}, "me": addr, "primary": addr, "setVersion": int32(1),
		"isWritablePrimary": true, "ismaster": true, "secondary": false,
		"logicalSessionTimeoutMinutes": int32(30),
	}
	for i := range d {
		if v, ok := set[d[i].Key]; ok {
			d[i].Value = v
			delete(set, d[i].Key)
		}
	}
	for _, k := range []string{"setName", "hosts", "me", "primary", "setVersion", "isWritablePrimary", "ismaster", "secondary", "logicalSessionTimeoutMinutes"} {
		if v, ok := set[k]; ok {
			d = append(d, bson.E{Key: k, Value: v})
		}
	}
	out, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode hello reply: %w", err)
	}
	if h.opCode == opMsg {
		return buildMsg(h.requestID, h.responseTo, 0, out, rest), nil
	}
	body := append(append(append([]byte(nil), prefix...), out...), rest...)
	return frame(h.requestID, h.responseTo, opReply, body), nil
}

// record takes the command's name and its session and transaction fields.
func record(doc bson.Raw) Command {
	var c Command
	elems, err := doc.Elements()
	if err != nil || len(elems) == 0 {
		return Command{Name: "<undecodable>"}
	}
	c.Name = elems[0].Key()
	if v, err := doc.LookupErr("lsid", "id"); err == nil {
		if _, data, ok := v.BinaryOK(); ok {
			c.LSID = hex.EncodeToString(data)
		}
	}
	if v, err := doc.LookupErr("txnNumber"); err == nil {
		c.TxnNumber, _ = v.AsInt64OK()
	}
	if v, err := doc.LookupErr("startTransaction"); err == nil {
		c.StartTransaction, _ = v.BooleanOK()
	}
	_, err = doc.LookupErr("autocommit")
	c.Autocommit = err == nil
	return c
}

// stripTxn drops the fields FerretDB does not know, or refuses, from a command.
func stripTxn(doc bson.Raw) (bson.Raw, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, fmt.Errorf("decode command: %w", err)
	}
	_, err = doc.LookupErr("autocommit")
	inTxn := err == nil
	var keep []byte
	for _, e := range elems {
		switch e.Key() {
		case "txnNumber", "startTransaction", "autocommit":
			continue
		case "readConcern":
			if inTxn {
				continue // the transaction's, on its first command, which may be a write
			}
			if rc, ok := e.Value().DocumentOK(); ok {
				inner, err := rc.Elements()
				if err != nil {
					return nil, fmt.Errorf("decode readConcern: %w", err)
				}
				var kept []byte
				for _, ie := range inner {
					if ie.Key() != "afterClusterTime" {
						kept = append(kept, ie...)
					}
				}
				keep = append(keep, 0x03)
				keep = append(keep, "readConcern\x00"...)
				keep = append(keep, document(kept)...)
				continue
			}
		}
		keep = append(keep, e...)
	}
	return document(keep), nil
}

// document frames raw elements as a BSON document.
func document(elems []byte) bson.Raw {
	out := binary.LittleEndian.AppendUint32(nil, uint32(4+len(elems)+1))
	out = append(out, elems...)
	return append(out, 0)
}

type msgHeader struct {
	length, requestID, responseTo, opCode int32
}

func header(msg []byte) msgHeader {
	return msgHeader{
		length:     int32(binary.LittleEndian.Uint32(msg[0:])),
		requestID:  int32(binary.LittleEndian.Uint32(msg[4:])),
		responseTo: int32(binary.LittleEndian.Uint32(msg[8:])),
		opCode:     int32(binary.LittleEndian.Uint32(msg[12:])),
	}
}

// readMessage reads one whole wire message.
func readMessage(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.LittleEndian.Uint32(size[:])))
	if n < 16 || n > 64<<20 {
		return nil, fmt.Errorf("wire message of %d bytes", n)
	}
	msg := make([]byte, n)
	copy(msg, size[:])
	if _, err := io.ReadFull(r, msg[4:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// splitMsg takes an OP_MSG apart: its flags, the body (the kind 0 section) and the other
// sections as they were, without the checksum.
func splitMsg(msg []byte) (flags uint32, body bson.Raw, rest []byte, err error) {
	b := msg[16:]
	if len(b) < 4 {
		return 0, nil, nil, errors.New("short OP_MSG")
	}
	flags = binary.LittleEndian.Uint32(b)
	b = b[4:]
	if flags&flagChecksum != 0 {
		if len(b) < 4 {
			return 0, nil, nil, errors.New("short OP_MSG checksum")
		}
		b = b[:len(b)-4]
	}
	for len(b) > 0 {
		kind := b[0]
		if len(b) < 5 {
			return 0, nil, nil, errors.New("short OP_MSG section")
		}
		n := int(int32(binary.LittleEndian.Uint32(b[1:])))
		if n < 5 || 1+n > len(b) {
			return 0, nil, nil, fmt.Errorf("OP_MSG section of %d bytes", n)
		}
		switch kind {
		case 0:
			body = bson.Raw(b[1 : 1+n])
		case 1:
			rest = append(rest, b[:1+n]...)
		default:
			return 0, nil, nil, fmt.Errorf("OP_MSG section kind %d", kind)
		}
		b = b[1+n:]
	}
	if body == nil {
		return 0, nil, nil, errors.New("OP_MSG without a body")
	}
	return flags, body, rest, nil
}

// buildMsg frames an OP_MSG from its body and its other sections.
func buildMsg(requestID, responseTo int32, flags uint32, body bson.Raw, rest []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, flags)
	b = append(b, 0)
	b = append(b, body...)
	b = append(b, rest...)
	return frame(requestID, responseTo, opMsg, b)
}

func frame(requestID, responseTo, opCode int32, body []byte) []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(16+len(body)))
	out = binary.LittleEndian.AppendUint32(out, uint32(requestID))
	out = binary.LittleEndian.AppendUint32(out, uint32(responseTo))
	out = binary.LittleEndian.AppendUint32(out, uint32(opCode))
	return append(out, body...)
}

// queryDoc returns the query document of an OP_QUERY.
func queryDoc(msg []byte) (bson.Raw, bool) {
	b := msg[16:]
	if len(b) < 4 {
		return nil, false
	}
	b = b[4:] // flags
	end := strings.IndexByte(string(b), 0)
	if end < 0 || len(b) < end+1+8+4 {
		return nil, false
	}
	b = b[end+1+8:] // collection name, numberToSkip, numberToReturn
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n < 5 || n > len(b) {
		return nil, false
	}
	return bson.Raw(b[:n]), true
}
