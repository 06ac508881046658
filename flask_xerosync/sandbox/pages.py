"""HTML pages: the consent screen, Xero-style error pages and a read-only invoice view.

Templates are rendered with Flask's ``render_template_string`` (autoescaped), so
every value coming from sandbox data or request parameters is escaped.
"""

from __future__ import annotations

from typing import Any

from flask import render_template_string

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a1a1a;background:#f4f6f8}
header{background:#0b3d66;color:#fff;padding:.75rem 1.5rem}
header p{margin:0;font-weight:600}
main{max-width:40rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.4rem;margin-top:0}
h2{font-size:1.1rem}
fieldset{border:1px solid #767676;border-radius:6px;padding:.75rem 1rem;margin:1rem 0}
legend{font-weight:600;padding:0 .25rem}
.option{margin:.4rem 0}
.actions{display:flex;gap:.75rem;margin-top:1rem}
button{font-size:1rem;padding:.55rem 1.25rem;border-radius:4px;border:2px solid #0b5cad;cursor:pointer}
button.primary{background:#0b5cad;color:#fff}
button.secondary{background:#fff;color:#0b5cad}
button:focus-visible,input:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
.error{color:#a4001d;font-weight:600}
.muted{color:#4a4a4a}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d0d4d9}
td.num,th.num{text-align:right}
code{background:#eef1f4;padding:0 .2rem;border-radius:3px}
"""

_LAYOUT_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} – Xero sandbox</title>
<style>{{ style }}</style>
</head>
<body>
<header><p>Xero sandbox</p></header>
"""

_CONSENT = _LAYOUT_HEAD + """<main>
<h1>Connect {{ app_name }} to Xero</h1>
<p>You are signed in as <strong>{{ user_name }}</strong> <span class="muted">({{ user_email }})</span>.</p>
<section aria-labelledby="scopes-heading">
<h2 id="scopes-heading">{{ app_name }} is asking to</h2>
<ul>
{% for scope in scopes %}<li>{{ scope.text }} <code>{{ scope.name }}</code></li>
{% endfor %}</ul>
</section>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
<input type="hidden" name="request_id" value="{{ request_id }}">
<fieldset>
<legend>{% if bulk %}Choose the organisations to connect{% else %}Choose the organisation to connect{% endif %}</legend>
{% if not orgs %}<p>You don't have access to any organisations.</p>{% endif %}
{% for org in orgs %}<div class="option">
<input type="{{ 'checkbox' if bulk else 'radio' }}" id="org-{{ loop.index }}" name="tenant_id"
 value="{{ org.tenant_id }}"{% if org.checked %} checked{% endif %}>
<label for="org-{{ loop.index }}">{{ org.name }}{% if org.connected %} (already connected){% endif %}</label>
</div>
{% endfor %}</fieldset>
<div class="actions">
<button type="submit" class="primary" name="action" value="authorise">Authorise</button>
<button type="submit" class="secondary" name="action" value="cancel">Cancel</button>
</div>
</form>
</main>
</body>
</html>
"""

_ERROR = _LAYOUT_HEAD + """<main>
<h1>Sorry, something went wrong</h1>
<p>Error: <code>{{ error }}</code></p>
<p>{{ description }}</p>
</main>
</body>
</html>
"""

_INVOICE = _LAYOUT_HEAD + """<main>
<h1>Invoice {{ inv.InvoiceNumber or inv.InvoiceID }}</h1>
<dl>
<dt>Organisation</dt><dd>{{ org_name }}</dd>
<dt>To</dt><dd>{{ inv.Contact.Name }}</dd>
<dt>Status</dt><dd>{{ inv.Status }}</dd>
<dt>Date</dt><dd>{{ inv.DateString[:10] }}</dd>
{% if inv.DueDateString %}<dt>Due</dt><dd>{{ inv.DueDateString[:10] }}</dd>{% endif %}
{% if inv.Reference %}<dt>Reference</dt><dd>{{ inv.Reference }}</dd>{% endif %}
</dl>
<table>
<caption class="muted">Amounts are {{ inv.LineAmountTypes }} of tax, in {{ inv.CurrencyCode }}</caption>
<thead><tr><th scope="col">Description</th><th scope="col" class="num">Qty</th>
<th scope="col" class="num">Unit price</th><th scope="col" class="num">Amount</th></tr></thead>
<tbody>
{% for line in inv.LineItems %}<tr><td>{{ line.Description }}</td><td class="num">{{ line.Quantity }}</td>
<td class="num">{{ line.UnitAmount }}</td><td class="num">{{ line.LineAmount }}</td></tr>
{% endfor %}</tbody>
<tfoot>
<tr><th scope="row" colspan="3">Subtotal</th><td class="num">{{ inv.SubTotal }}</td></tr>
<tr><th scope="row" colspan="3">Tax</th><td class="num">{{ inv.TotalTax }}</td></tr>
<tr><th scope="row" colspan="3">Total</th><td class="num">{{ inv.Total }}</td></tr>
<tr><th scope="row" colspan="3">Amount due</th><td class="num">{{ inv.AmountDue }}</td></tr>
</tfoot>
</table>
</main>
</body>
</html>
"""


def consent_page(**context: Any) -> str:
    return render_template_string(_CONSENT, style=_STYLE, title="Authorise", **context)


def error_page(error: str, description: str) -> str:
    return render_template_string(_ERROR, style=_STYLE, title="Error", error=error, description=description)


def invoice_page(invoice: dict[str, Any], org_name: str) -> str:
    number = invoice.get("InvoiceNumber") or invoice.get("InvoiceID")
    return render_template_string(_INVOICE, style=_STYLE, title=f"Invoice {number}", inv=invoice, org_name=org_name)
