package web

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
)

// NotificationStore keeps who hears about a scan's runs.
type NotificationStore = manage.NotificationStore

// NotificationTester sends a scan's test notification the way its runs'
// notifications go, and says what became of it on each channel.
type NotificationTester = manage.NotificationTester

// NotificationService is what the notification handlers and forms ask of
// scans' notification settings; *manage.Notifications does it.
type NotificationService interface {
	Get(ctx context.Context, scanID int64) (scan.Notifications, error)
	Put(ctx context.Context, scanID int64, in manage.NotificationsInput) (scan.Notifications, error)
	Delete(ctx context.Context, scanID int64) error
	Test(ctx context.Context, scanID int64) (scan.NotificationTest, error)
}

type notificationHandlers struct {
	base
	notifications NotificationService
}

// notificationsView shows settings without their secrets: the webhook
// secret, and the password a webhook URL may carry (http://user:pass@…),
// which is shown as "xxxxx". Both are write-only, for every role: what
// signs or authorises a delivery is no one's to read back.
type notificationsView struct {
	scan.Notifications
	WebhookSecretSet bool `json:"webhook_secret_set"`
}

func viewNotifications(n scan.Notifications) notificationsView {
	n.EmailTo = nonNil(n.EmailTo)
	n.WebhookURL = manage.RedactURL(n.WebhookURL)
	return notificationsView{Notifications: n, WebhookSecretSet: n.WebhookSecret != ""}
}

// get answers the scan's settings; a scan without any has nothing set.
func (h *notificationHandlers) get(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	n, err := h.notifications.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, viewNotifications(n))
	return nil
}

func (h *notificationHandlers) put(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in manage.NotificationsInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	out, err := h.notifications.Put(c.Request.Context(), id, in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, viewNotifications(out))
	return nil
}

func (h *notificationHandlers) delete(c *gin.Context) error {
	return deleteOne(c, h.notifications.Delete)
}

// test sends a test notification of the scan to its webhook and email
// recipients now, and answers what became of each (200 whatever it was:
// the outcome is the answer).
func (h *notificationHandlers) test(c *gin.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	out, err := h.notifications.Test(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}
