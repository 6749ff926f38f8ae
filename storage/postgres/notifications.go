package postgres

import (
	"context"
	"fmt"

	"github.com/scantron/scantron/scan"
)

const notificationCols = `scan_id, webhook_url, webhook_secret, email_to, on_completed, on_failed, on_diff, updated_at`

// GetNotifications returns a scan's notification settings, ErrNotFound when
// it has none.
func (s *Store) GetNotifications(ctx context.Context, scanID int64) (scan.Notifications, error) {
	n, found, err := s.LookupNotifications(ctx, scanID)
	if err == nil && !found {
		err = fmt.Errorf("get notifications: %w: notification settings of scan %d", ErrNotFound, scanID)
	}
	return n, err
}

// LookupNotifications is GetNotifications reporting missing settings as
// found == false.
func (s *Store) LookupNotifications(ctx context.Context, scanID int64) (n scan.Notifications, found bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT `+notificationCols+` FROM scan_notifications WHERE scan_id = $1`, scanID).
		Scan(&n.ScanID, &n.WebhookURL, &n.WebhookSecret, &n.EmailTo, &n.OnCompleted, &n.OnFailed, &n.OnDiff, &n.UpdatedAt)
	if isNoRows(err) {
		return scan.Notifications{}, false, nil
	}
	if err != nil {
		return scan.Notifications{}, false, fmt.Errorf("get notifications: %w", err)
	}
	n.EmailTo = strs(n.EmailTo)
	return n, true, nil
}

// PutNotifications creates or replaces a scan's notification settings. A
// missing scan is ErrNotFound.
func (s *Store) PutNotifications(ctx context.Context, n scan.Notifications) (scan.Notifications, error) {
	const q = `
INSERT INTO scan_notifications (scan_id, webhook_url, webhook_secret, email_to, on_completed, on_failed, on_diff)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (scan_id) DO UPDATE SET webhook_url = EXCLUDED.webhook_url, webhook_secret = EXCLUDED.webhook_secret,
    email_to = EXCLUDED.email_to, on_completed = EXCLUDED.on_completed, on_failed = EXCLUDED.on_failed,
    on_diff = EXCLUDED.on_diff, updated_at = now()
RETURNING ` + notificationCols
	var out scan.Notifications
	err := s.pool.QueryRow(ctx, q, n.ScanID, n.WebhookURL, n.WebhookSecret, strs(n.EmailTo), n.OnCompleted, n.OnFailed, n.OnDiff).
		Scan(&out.ScanID, &out.WebhookURL, &out.WebhookSecret, &out.EmailTo, &out.OnCompleted, &out.OnFailed, &out.OnDiff, &out.UpdatedAt)
	if err != nil {
		if pe := pgError(err); pe != nil && pe.Code == codeForeignKeyViolation {
			return scan.Notifications{}, fmt.Errorf("put notifications: %w: scan %d", ErrNotFound, n.ScanID)
		}
		return scan.Notifications{}, mapWrite("put notifications", err, "")
	}
	out.EmailTo = strs(out.EmailTo)
	return out, nil
}

// DeleteNotifications removes a scan's notification settings.
func (s *Store) DeleteNotifications(ctx context.Context, scanID int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM scan_notifications WHERE scan_id = $1`, scanID)
	if err != nil {
		return fmt.Errorf("delete notifications: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete notifications: %w: notification settings of scan %d", ErrNotFound, scanID)
	}
	return nil
}
