package send_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/credtrace/credtrace/synth/send"
)

func TestProgress(t *testing.T) {
	tests := []struct {
		done, total int64
		want        string
	}{
		{0, 10, "[>         ]   0%"},
		{5, 10, "[=====>    ]  50%"},
		{10, 10, "[==========] 100%"},
		{12, 10, "[==========] 100%"},
	}
	for _, tt := range tests {
		if got := send.Bar(tt.done, tt.total, 10); got != tt.want {
			t.Errorf("bar(%d, %d) = %q, want %q", tt.done, tt.total, got, tt.want)
		}
	}

	var term bytes.Buffer
	send.Progress(&term, 4, true, "events", 4)
	out := term.String()
	if !strings.HasPrefix(out, "\r[") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 || !strings.Contains(out, "100%") {
		t.Errorf("terminal progress = %q, want one line redrawn with \\r, ending at 100%% and a newline", out)
	}
}
