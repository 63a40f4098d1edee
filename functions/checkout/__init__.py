"""The cart, checkout with Stripe, payments and refunds."""
