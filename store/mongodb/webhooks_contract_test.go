package mongodb_test

import (
	"testing"

	"github.com/credtrace/credtrace/store/storetest"
	"github.com/credtrace/credtrace/webhook"
)

// TestWebhooksContract runs the webhook.Store contract suite, each subtest on a fresh database.
func TestWebhooksContract(t *testing.T) {
	t.Parallel()
	storetest.RunWebhooks(t, func(t *testing.T) webhook.Store { return open(t).Webhooks() })
}
