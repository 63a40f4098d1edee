"""The course catalog, enrollments, seats and the waitlist."""
