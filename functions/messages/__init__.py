"""Notifications (in-app and e-mail) today; messages and announcements later."""
