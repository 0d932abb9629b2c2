"""Jinja2 templates of the NOC page (kept in Python so the package carries them without data files)."""

CSS = """
:root{--ok:#15803d;--warn:#b45309;--crit:#b91c1c;--unk:#6b7280;--bg:#f3f4f6;--fg:#111827}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,"Segoe UI",Roboto,"Noto Sans",sans-serif;
background:var(--bg);color:var(--fg)}header{background:#0f172a;color:#fff;padding:8px 16px;display:flex;
gap:16px;align-items:center;flex-wrap:wrap}header h1{font-size:16px;margin:0 16px 0 0}header a{color:#cbd5e1;
text-decoration:none}header a.on{color:#fff;font-weight:600}header .sp{flex:1}header form{display:inline}
main{padding:16px;max-width:1400px;margin:auto}table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:6px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#e5e7eb}.badge{display:inline-block;padding:2px 8px;border-radius:10px;color:#fff;font-size:12px}
.ok{background:var(--ok)}.warning{background:var(--warn)}.critical,.unreachable{background:var(--crit)}
.unknown,.info{background:var(--unk)}.card{background:#fff;padding:12px;margin:0 0 16px;border-radius:6px;
box-shadow:0 1px 2px #0002}.grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}
.chart{width:100%;height:auto;background:#fff}.chart .bg{fill:#fafafa;stroke:#d1d5db}.chart .grid{stroke:#e5e7eb}
.chart .thr{stroke:#b91c1c;stroke-dasharray:4 3}.chart text{font-size:11px;fill:#374151}
.chart .yl{text-anchor:end}.chart .xl{text-anchor:middle}.chart .ct{font-weight:600;font-size:12px}
.chart .nodata{text-anchor:middle;font-size:20px;fill:#9ca3af}button{cursor:pointer}
.muted{color:#6b7280}.err{color:var(--crit)}.login{max-width:360px;margin:10vh auto}.login input{width:100%;
padding:8px;margin:4px 0 12px}.ranges a{margin-right:12px}.ranges a.on{font-weight:700}
tr.dev-critical td:first-child,tr.dev-unreachable td:first-child{border-left:6px solid var(--crit)}
tr.dev-warning td:first-child{border-left:6px solid var(--warn)}tr.dev-ok td:first-child{border-left:6px solid var(--ok)}
tr.dev-unknown td:first-child{border-left:6px solid var(--unk)}pre{white-space:pre-wrap;word-break:break-all}
"""

BASE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{% if refresh %}<meta http-equiv="refresh" content="{{ refresh }}">{% endif %}
<title>{% block title %}{{ t('title') }}{% endblock %}</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header><h1>{{ t('title') }}</h1>
{% if user %}<a href="/" class="{{ 'on' if page=='overview' }}" id="nav-overview">{{ t('overview') }}</a>
<a href="/alerts" class="{{ 'on' if page=='alerts' }}" id="nav-alerts">{{ t('alerts') }}
{% if n_alerts %}<span class="badge critical" id="alert-count">{{ n_alerts }}</span>{% endif %}</a>
<a href="/lines" class="{{ 'on' if page=='lines' }}" id="nav-lines">{{ t('lines') }}</a>{% endif %}
<span class="sp"></span>
<a href="/lang/{{ 'en' if lang=='vi' else 'vi' }}?next={{ here|urlencode }}" id="lang-switch">{{ t('lang_switch') }}</a>
{% if user %}<span>{{ user.user }} ({{ user.role }}{% if user.role != 'admin' %}, {{ t('readonly') }}{% endif %})</span>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{ user.csrf }}">
<button id="logout">{{ t('logout') }}</button></form>{% endif %}
</header><main>{% block main %}{% endblock %}</main></body></html>"""

LOGIN = """{% extends "base" %}{% block main %}<div class="card login"><h2>{{ t('login') }}</h2>
{% if error %}<p class="err" id="login-error">{{ error }}</p>{% endif %}
<form method="post" action="/login"><input type="hidden" name="next" value="{{ next }}">
<label>{{ t('username') }}<input name="username" id="username" autocomplete="username" required></label>
<label>{{ t('password') }}<input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="login-button">{{ t('login') }}</button></form></div>{% endblock %}"""

ALERT_TABLE = """{% macro alert_table(alerts, show_ack) %}
{% if not alerts %}<p class="muted" id="no-alerts">{{ t('no_alerts') }}</p>{% else %}
<table id="active-alerts"><tr><th>{{ t('severity') }}</th><th>{{ t('device') }}</th><th>{{ t('summary') }}</th>
<th>{{ t('since') }}</th><th></th></tr>
{% for a in alerts %}<tr class="alert-row" data-rule="{{ a.rule }}" data-device="{{ a.device }}">
<td><span class="badge {{ a.severity }}">{{ t(a.severity) }}</span></td>
<td><a href="/device/{{ a.device|urlencode }}">{{ a.device }}</a></td>
<td>{{ a['summary_' + lang] }}</td><td>{{ fmt_time(a.fired_at) }}</td>
<td>{% if a.acked_by %}<span class="acked">{{ t('acked_by') }} {{ a.acked_by }}</span>
{% elif show_ack and user.role == 'admin' %}<form method="post" action="/alerts/{{ a.id }}/ack">
<input type="hidden" name="csrf" value="{{ user.csrf }}"><button class="ack-button">{{ t('ack') }}</button></form>
{% endif %}</td></tr>{% endfor %}</table>{% endif %}{% endmacro %}"""

OVERVIEW = """{% extends "base" %}{% from "alert_table" import alert_table with context %}{% block main %}
<div class="card"><h2>{{ t('active_alerts') }}</h2>{{ alert_table(alerts, True) }}</div>
{% for group, devs in groups %}<div class="card"><h2>{{ t(group) }}</h2>
<table><tr><th>{{ t('device') }}</th><th>{{ t('status') }}</th><th>{{ t('values') }}</th><th>{{ t('last_poll') }}</th></tr>
{% for d in devs %}<tr class="dev-{{ d.status }}" id="dev-{{ d.name }}"><td><a href="/device/{{ d.name|urlencode }}">
<b>{{ d.display_name }}</b></a><br><span class="muted">{{ d.name }}</span></td>
<td><span class="badge {{ d.status }} status" data-status="{{ d.status }}">{{ t(d.status) }}</span></td>
<td>{% for k, v in d.summary %}<div><span class="muted">{{ k }}:</span> {{ v }}</div>{% endfor %}</td>
<td>{{ fmt_time(d.last_poll) }}</td></tr>{% endfor %}</table></div>{% endfor %}
<p class="muted">{{ t('refresh_note') }}</p>{% endblock %}"""

DEVICE = """{% extends "base" %}{% block main %}<div class="card"><h2>{{ dev.display_name }}
<span class="badge {{ status }}">{{ t(status) }}</span></h2>
<p class="muted">{{ dev.name }} · {{ dev.profile }}{% if dev.error %} · <span class="err">{{ dev.error }}</span>{% endif %}</p>
<h3>{{ t('identity') }}</h3><table id="identity">{% for k, v in dev.info.items() %}<tr><th>{{ k }}</th>
<td><pre>{{ v }}</pre></td></tr>{% endfor %}</table></div>
<div class="card"><h3>{{ t('latest') }}</h3><table id="latest"><tr><th>{{ t('metric') }}</th><th></th><th>{{ t('value') }}</th></tr>
{% for r in latest %}<tr><td>{{ t(r.metric) }}<br><span class="muted">{{ r.metric }}</span></td>
<td>{{ r.label_text }}</td><td>{{ r.display }}</td></tr>{% endfor %}</table></div>
<div class="card"><div class="ranges">{{ t('range') }}: {% for r in ranges %}<a href="?range={{ r }}"
class="{{ 'on' if r == rng }}" id="range-{{ r }}">{{ t('r' + r) }}</a>{% endfor %}</div>
<div class="grid2">{% for c in charts %}<div>{{ c|safe }}</div>{% endfor %}</div></div>{% endblock %}"""

LINES = """{% extends "base" %}{% block main %}<div class="card"><h2>{{ t('lines') }}</h2>
<div class="ranges">{{ t('range') }}: {% for r in ranges %}<a href="?range={{ r }}" class="{{ 'on' if r == rng }}">{{ t('r' + r) }}</a>{% endfor %}</div>
{% for l in lines %}<h3>{{ l.name }} — {{ l.provider }} ({{ l.bandwidth }} Mbps, {{ l.device }} {{ l.interface }})
<span class="badge {{ l.status }}">{{ t(l.status) }}</span></h3>
<p>{{ t('in') }}: {{ l.now_in }} · {{ t('out') }}: {{ l.now_out }}</p>
<div class="grid2"><div>{{ l.chart_util|safe }}</div><div>{{ l.chart_bps|safe }}</div></div>{% endfor %}
{% if not lines %}<p class="muted">—</p>{% endif %}</div>{% endblock %}"""

ALERTS = """{% extends "base" %}{% from "alert_table" import alert_table with context %}{% block main %}
<div class="card"><h2>{{ t('active_alerts') }}</h2>{{ alert_table(alerts, True) }}</div>
<div class="card"><h2>{{ t('recent_alerts') }}</h2><table id="history"><tr><th>{{ t('severity') }}</th>
<th>{{ t('device') }}</th><th>{{ t('summary') }}</th><th>{{ t('since') }}</th><th>{{ t('resolved_at') }}</th>
<th>{{ t('acked_by') }}</th></tr>{% for a in recent %}<tr><td><span class="badge {{ a.severity }}">{{ t(a.severity) }}</span></td>
<td>{{ a.device }}</td><td>{{ a['summary_' + lang] }}</td><td>{{ fmt_time(a.fired_at) }}</td>
<td>{{ fmt_time(a.resolved_at) }}</td><td>{{ a.acked_by or '' }}</td></tr>{% endfor %}</table></div>{% endblock %}"""

ERROR = """{% extends "base" %}{% block main %}<div class="card"><h2>{{ message }}</h2></div>{% endblock %}"""

TEMPLATES = {"base": BASE, "login": LOGIN, "alert_table": ALERT_TABLE, "overview": OVERVIEW, "device": DEVICE,
             "lines": LINES, "alerts": ALERTS, "error": ERROR}
