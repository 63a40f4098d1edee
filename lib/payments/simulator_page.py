"""The simulator's hosted test checkout page: what Stripe's own checkout page
is to the student, with test cards and a bank debit that settles later."""

from __future__ import annotations

import html
from typing import Any

PAYING_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


def checkout_page(data: dict[str, Any], *, error: str | None) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(str(item['description']))}</td>"
        f"<td class='amount'>{e(_money(int(item['amount_total']), item['currency']))}</td></tr>"
        for item in data.get("line_items", {}).get("data", [])
    )
    total = _money(int(data["amount_total"]), str(data["currency"]))
    if data["status"] != "open":
        body = f"<p>This checkout is {e(data['status'])}.</p>"
    else:
        alert = f"<p class='error' role='alert'>{e(error)}</p>" if error else ""
        body = f"""
<table><caption>Order</caption><tbody>{rows}</tbody>
<tfoot><tr><th scope="row">Total</th><td class="amount">{e(total)}</td></tr></tfoot></table>
{alert}
<form method="post" action="/simulator/checkout/{e(data["id"])}/pay">
<fieldset><legend>Pay with</legend>
<label><input type="radio" name="method" value="card" checked> Card</label>
<label><input type="radio" name="method" value="bank_debit"> Bank debit (settles later)</label>
<label><input type="radio" name="method" value="bank_debit_fail"> Bank debit that fails</label>
</fieldset>
<label for="card_number">Card number</label>
<input id="card_number" name="card_number" inputmode="numeric" autocomplete="off"
 placeholder="4242 4242 4242 4242">
<p class="hint">Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined.</p>
<button type="submit">Pay {e(total)}</button>
</form>
<p><a href="{e(str(data.get("cancel_url") or "/"))}">Cancel and go back</a></p>"""
    return page("Test checkout", body)


def page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Student Portal payment simulator</title>
<link rel="stylesheet" href="/simulator/checkout.css"></head>
<body><main><p class="badge">Payment simulator · no real money moves</p>
<h1>{html.escape(title)}</h1>{body}</main></body></html>"""


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f8;
color:#111827;margin:0;padding:1rem}
main{max-width:28rem;margin:2rem auto;background:#fff;border-radius:12px;padding:1.5rem;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
.badge{display:inline-block;background:#fef3c7;color:#78350f;border-radius:999px;
padding:.2rem .7rem;font-size:.85rem;margin:0}
table{width:100%;border-collapse:collapse;margin:1rem 0}caption{text-align:left;font-weight:600}
td,th{padding:.4rem 0;border-bottom:1px solid #e5e7eb;text-align:left}.amount{text-align:right}
fieldset{border:1px solid #d1d5db;border-radius:8px;margin:1rem 0;padding:.5rem 1rem}
fieldset label{display:block;padding:.3rem 0}
label{font-weight:600}input[type=radio]{margin-right:.5rem}
#card_number{display:block;width:100%;box-sizing:border-box;font-size:1rem;padding:.6rem;
margin:.3rem 0;border:1px solid #6b7280;border-radius:8px}
.hint{color:#4b5563;font-size:.9rem}
button{background:#1d4ed8;color:#fff;border:0;border-radius:8px;padding:.75rem 1.2rem;
font-size:1rem;font-weight:600;cursor:pointer;width:100%}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid #f59e0b;
outline-offset:2px}
.error{background:#fee2e2;color:#7f1d1d;border-radius:8px;padding:.6rem}
a{color:#1d4ed8}
"""


def refusal_of(method: str, card: str) -> tuple[str, int] | None:
    """Why the hosted page refuses to pay, and with what status; None: it pays."""
    if method in {"bank_debit", "bank_debit_fail"}:
        return None
    if method != "card":
        return "Choose a payment method.", 422
    if card == DECLINED_CARD:
        return "Your card was declined. Try another card.", 402
    if card != PAYING_CARD:
        return "Use test card 4242 4242 4242 4242 (paid) or 4000 0000 0000 0002 (declined).", 422
    return None
