"""Jinja2 templates of the NOC page (autoescaped; no script: the CSP forbids it)."""
from . import facility_templates

CSS = """
:root{--ok:#15803d;--warn:#b45309;--crit:#b91c1c;--unk:#6b7280;--maint:#6d28d9;--bg:#f3f4f6;--fg:#111827}
*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}body{margin:0;font:14px/1.4 system-ui,"Segoe UI",Roboto,
"Noto Sans",sans-serif;background:var(--bg);color:var(--fg);overflow-wrap:anywhere}
header{background:#0f172a;color:#fff;padding:8px 12px;display:flex;gap:8px 16px;align-items:center;flex-wrap:wrap}
header h1{font-size:16px;margin:0 8px 0 0}header a{color:#cbd5e1;text-decoration:none}header a.on{color:#fff;
font-weight:600}header .sp{flex:1}header form{display:inline;margin:0}header button.link{background:none;border:0;
color:#cbd5e1;padding:0;font:inherit;text-decoration:underline}
main{padding:12px;max-width:1400px;margin:auto}table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:6px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#e5e7eb}.badge{display:inline-block;padding:2px 8px;border-radius:10px;color:#fff;font-size:12px}
.ok{background:var(--ok)}.warning{background:var(--warn)}.critical,.unreachable{background:var(--crit)}
.unknown,.info{background:var(--unk)}.maintenance{background:var(--maint)}.card{background:#fff;padding:12px;
margin:0 0 12px;border-radius:6px;box-shadow:0 1px 2px #0002}
.grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,560px),1fr));gap:12px}
.chart{width:100%;height:auto;background:#fff}.chart .bg{fill:#fafafa;stroke:#d1d5db}.chart .grid{stroke:#e5e7eb}
.chart .thr{stroke:#b91c1c;stroke-dasharray:4 3}.chart text{font-size:11px;fill:#374151}
.chart .yl{text-anchor:end}.chart .xl{text-anchor:middle}.chart .ct{font-weight:600;font-size:12px}
.chart .nodata{text-anchor:middle;font-size:20px;fill:#9ca3af}button{cursor:pointer}
.muted{color:#6b7280}.err{color:var(--crit)}.login{max-width:360px;margin:8vh auto}.login input{width:100%;
padding:8px;margin:4px 0 12px}.ranges a{margin-right:10px;display:inline-block}.ranges a.on{font-weight:700}
.ranges form{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin-top:6px}
tr.dev-critical td:first-child,tr.dev-unreachable td:first-child{border-left:6px solid var(--crit)}
tr.dev-warning td:first-child{border-left:6px solid var(--warn)}tr.dev-ok td:first-child{border-left:6px solid var(--ok)}
tr.dev-unknown td:first-child{border-left:6px solid var(--unk)}pre{white-space:pre-wrap;word-break:break-all;margin:0}
.lbl{display:none}form.ack{display:flex;gap:4px;flex-wrap:wrap}form.ack input{flex:1;min-width:8em}
form.silence{display:grid;grid-template-columns:max-content 1fr;gap:6px 8px;max-width:560px}
form.silence input,form.silence select{width:100%}
.stale{background:#fef3c7;border:1px solid var(--warn);padding:6px 10px;border-radius:4px}
@media (max-width:640px){th,td{padding:4px 5px}header h1{font-size:14px;width:100%}
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}table.stack tr:first-child{display:none}
table.stack tr{border-bottom:2px solid #d1d5db}table.stack td{border:0}table.stack td:empty{display:none}
table.stack .lbl{display:inline;color:#6b7280}
.chart text{font-size:17px}.chart .ct{font-size:18px}.chart .lg{font-size:13px}}
body.wall{background:#0b1020;color:#e5e7eb;font-size:18px}body.wall header{background:#000}
body.wall .tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,280px),1fr));gap:14px}
body.wall .tile{border-radius:10px;padding:14px 16px;background:#1f2937;border-left:12px solid var(--unk);min-height:120px}
body.wall .tile.ok{border-left-color:var(--ok)}body.wall .tile.warning{border-left-color:#f59e0b}
body.wall .tile.critical,body.wall .tile.unreachable{border-left-color:#ef4444;background:#450a0a}
body.wall .tile.maintenance{border-left-color:#a78bfa}body.wall .tile h2{margin:0 0 6px;font-size:22px}
body.wall .tile .st{font-size:20px;font-weight:700}body.wall .walert{font-size:22px;padding:10px 14px;margin:0 0 8px;
border-radius:8px;background:#7f1d1d}body.wall .walert.warning{background:#78350f}body.wall .muted{color:#9ca3af}
body.wall .tile .muted{font-size:15px}body.wall a{color:#e5e7eb}
"""

BASE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{% if refresh %}<meta http-equiv="refresh" content="{{ refresh }}">{% endif %}
<title>{% block title %}{{ t('title') }}{% endblock %}</title><link rel="stylesheet" href="/static/app.css"></head>
<body class="{{ body_class or '' }}"><header><h1>{{ t('title') if not wall else t('short_title') }}</h1>
{% if user and not wall %}<a href="/" class="{{ 'on' if page=='overview' }}" id="nav-overview">{{ t('overview') }}</a>
<a href="/alerts" class="{{ 'on' if page=='alerts' }}" id="nav-alerts">{{ t('alerts') }}
{% if n_alerts %}<span class="badge critical" id="alert-count">{{ n_alerts }}</span>{% endif %}</a>
<a href="/lines" class="{{ 'on' if page=='lines' }}" id="nav-lines">{{ t('lines') }}</a>
<a href="/silences" class="{{ 'on' if page=='silences' }}" id="nav-silences">{{ t('silences') }}</a>
<a href="/wall" id="nav-wall">{{ t('wall') }}</a>{% endif %}
<span class="sp"></span>
{% if wall %}<span id="data-age">{{ t('data_age') }} {{ fmt_time(data_ts) }}</span>{% endif %}
<form method="post" action="/lang" id="lang-form"><input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="lang" value="{{ 'en' if lang=='vi' else 'vi' }}"><input type="hidden" name="next" value="{{ here }}">
<button class="link" id="lang-switch">{{ t('lang_switch') }}</button></form>
{% if user and not user.kiosk %}<span>{{ user.user }} ({{ user.role }}{% if user.role != 'admin' %}, {{ t('readonly') }}{% endif %})</span>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{ csrf }}">
<button id="logout">{{ t('logout') }}</button></form>{% endif %}
</header><main>{% if stale %}<p class="stale" id="stale">{{ t('stale') }}</p>{% endif %}
{% if source_health and not source_health.ok %}<p class="stale" id="alert-source-down">{{ t('source_down') }}
<span class="muted">({{ source_health.error }})</span></p>{% endif %}{% block main %}{% endblock %}</main></body></html>"""

LOGIN = """{% extends "base" %}{% block main %}<div class="card login"><h2>{{ t('login') }}</h2>
{% if error %}<p class="err" id="login-error">{{ error }}</p>{% endif %}
<form method="post" action="/login"><input type="hidden" name="next" value="{{ next }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label>{{ t('username') }}<input name="username" id="username" autocomplete="username" required></label>
<label>{{ t('password') }}<input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="login-button">{{ t('login') }}</button></form></div>{% endblock %}"""

ALERT_TABLE = """{% macro alert_table(alerts, show_ack) %}
{% if source_health and source_health.fallback %}<p class="err" id="alerts-fallback">{{ t('source_fallback') }}</p>{% endif %}
{% if not alerts and source_health and not source_health.ok %}<p class="err" id="alerts-unknown">{{ t('alerts_unknown') }}</p>
{% elif not alerts %}<p class="muted" id="no-alerts">{{ t('no_alerts') }}</p>{% else %}
<table id="active-alerts" class="stack"><tr><th>{{ t('severity') }}</th><th>{{ t('device') }}</th><th>{{ t('summary') }}</th>
<th>{{ t('since') }}</th><th></th></tr>
{% for a in alerts %}<tr class="alert-row" data-rule="{{ a.rule }}" data-device="{{ a.device }}">
<td><span class="badge {{ a.severity }}">{{ t(a.severity) }}</span>{% if a.silenced %}
<span class="badge maintenance silenced">{{ t('silenced') }}</span>{% endif %}{% if a.inhibited %}
<span class="badge info inhibited">{{ t('inhibited') }}</span>{% endif %}</td>
<td><a href="/device/{{ a.device|urlencode }}">{{ a.device }}</a></td>
<td>{{ a['summary_' + lang] }}</td><td>{{ fmt_time(a.fired_at) }}</td>
<td>{% if a.acked_by %}<span class="acked">{{ t('acked_by') }} {{ a.acked_by }}</span>
{% if a.ack_comment %}<div class="ack-comment">{{ a.ack_comment }}</div>{% endif %}
{% elif show_ack and user.role == 'admin' %}<form method="post" action="/alerts/{{ a.id }}/ack" class="ack">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="next" value="{{ here }}">
<input name="comment" class="ack-comment-input" maxlength="500" placeholder="{{ t('ack_comment') }}" aria-label="{{ t('ack_comment') }}">
<button class="ack-button">{{ t('ack') }}</button></form>
{% endif %}</td></tr>{% endfor %}</table>{% endif %}{% endmacro %}"""

OVERVIEW = """{% extends "base" %}{% from "alert_table" import alert_table with context %}
{% from "facility" import facility_section with context %}{% from "quality" import quality_badge, quality_section with context %}
{% block main %}
<div class="card"><h2>{{ t('active_alerts') }}</h2>{{ alert_table(alerts, True) }}</div>
{{ facility_section(facility) }}{{ quality_section(quality) }}
{% for group, devs in groups %}<div class="card"><h2>{{ t(group) }}</h2>
<table class="stack"><tr><th>{{ t('device') }}</th><th>{{ t('status') }}</th><th>{{ t('values') }}</th><th>{{ t('last_poll') }}</th></tr>
{% for d in devs %}<tr class="dev-{{ d.status }}" id="dev-{{ d.name }}"><td><a href="/device/{{ d.name|urlencode }}">
<b>{{ d.display_name }}</b></a><br><span class="muted">{{ d.name }}</span></td>
<td><span class="badge {{ d.status }} status" data-status="{{ d.status }}">{{ t(d.status) }}</span>
{% if d.quality in ('implausible', 'profile_matched_nothing', 'never_polled') %}{{ quality_badge(d.quality) }}{% endif %}
{% if d.silence %}<span class="badge maintenance in-maintenance" title="{{ d.silence.reason }}">{{ t('maintenance') }}</span>{% endif %}</td>
<td>{% for k, v in d.summary %}<div><span class="muted">{{ k }}:</span> {{ v }}</div>{% endfor %}</td>
<td>{{ fmt_time(d.last_poll) }}</td></tr>{% endfor %}</table></div>{% endfor %}
<p class="muted">{{ t('refresh_note').format(n=refresh) }}</p>{% endblock %}"""

RANGES = """{% macro ranges_bar(nav) %}<div class="ranges" id="ranges">{{ t('range') }}:
{% for r in nav.presets %}<a href="?range={{ r.key }}" class="{{ 'on' if r.on }}" id="range-{{ r.key }}">{{ r.text }}</a>{% endfor %}
<a href="?from={{ nav.earlier[0] }}&amp;to={{ nav.earlier[1] }}" id="pan-earlier">{{ t('earlier') }}</a>
<a href="?from={{ nav.zoom_in[0] }}&amp;to={{ nav.zoom_in[1] }}" id="zoom-in">{{ t('zoom_in') }}</a>
<a href="?from={{ nav.zoom_out[0] }}&amp;to={{ nav.zoom_out[1] }}" id="zoom-out">{{ t('zoom_out') }}</a>
{% if nav.later %}<a href="?from={{ nav.later[0] }}&amp;to={{ nav.later[1] }}" id="pan-later">{{ t('later') }}</a>{% endif %}
<form method="get"><label>{{ t('from') }} <input type="datetime-local" name="from" value="{{ nav.from_local }}" id="range-from"></label>
<label>{{ t('to') }} <input type="datetime-local" name="to" value="{{ nav.to_local }}" id="range-to"></label>
<button id="range-show">{{ t('show') }}</button></form>
<div class="muted" id="range-shown">{{ nav.shown }}</div></div>{% endmacro %}"""

DEVICE = """{% extends "base" %}{% from "ranges" import ranges_bar with context %}{% from "quality" import quality_badge with context %}
{% block main %}<div class="card"><h2>{{ dev.display_name }}
<span class="badge {{ status }}">{{ t(status) }}</span>{% if quality in ('implausible', 'profile_matched_nothing', 'never_polled') %}
{{ quality_badge(quality) }}{% endif %}{% if silence %} <span class="badge maintenance">{{ t('maintenance') }}</span>{% endif %}</h2>
<p class="muted">{{ dev.name }} · {{ dev.profile }}{% if dev.error %} · <span class="err">{{ dev.error }}</span>{% endif %}</p>
<h3>{{ t('identity') }}</h3><table id="identity">{% for k, v in dev.info.items() %}<tr><th>{{ k }}</th>
<td><pre>{{ v }}</pre></td></tr>{% endfor %}</table></div>
<div class="card"><h3>{{ t('latest') }}</h3><table id="latest" class="stack"><tr><th>{{ t('metric') }}</th><th></th><th>{{ t('value') }}</th></tr>
{% for r in latest %}<tr><td>{{ t(r.metric) }}</td>
<td>{{ r.label_text }}</td><td class="value">{{ r.display }}</td></tr>{% endfor %}</table></div>
<div class="card">{{ ranges_bar(nav) }}
<div class="grid2">{% for c in charts %}<div>{{ c|safe }}</div>{% endfor %}</div></div>{% endblock %}"""

LINES = """{% extends "base" %}{% from "ranges" import ranges_bar with context %}{% block main %}<div class="card"><h2>{{ t('lines') }}</h2>
{{ ranges_bar(nav) }}
{% for l in lines %}<h3>{{ l.name }} — {{ l.provider }} ({{ l.bandwidth }} Mbps, {{ l.device }} {{ l.interface }})
<span class="badge {{ l.status }}">{{ t(l.status) }}</span></h3>
<p>{{ t('in') }}: {{ l.now_in }} · {{ t('out') }}: {{ l.now_out }}</p>
<div class="grid2"><div>{{ l.chart_util|safe }}</div><div>{{ l.chart_bps|safe }}</div></div>{% endfor %}
{% if not lines %}<p class="muted">—</p>{% endif %}</div>{% endblock %}"""

ALERTS = """{% extends "base" %}{% from "alert_table" import alert_table with context %}{% block main %}
<div class="card"><h2>{{ t('active_alerts') }}</h2>{{ alert_table(alerts, True) }}</div>
<div class="card"><h2>{{ t('recent_alerts') }} <a href="/alerts.csv" id="export-csv" class="badge info">{{ t('export_csv') }}</a></h2>
<table id="history" class="stack"><tr><th>{{ t('severity') }}</th>
<th>{{ t('device') }}</th><th>{{ t('summary') }}</th><th>{{ t('since') }}</th><th>{{ t('resolved_at') }}</th>
<th>{{ t('acked_by') }}</th></tr>{% for a in recent %}<tr><td><span class="badge {{ a.severity }}">{{ t(a.severity) }}</span></td>
<td>{{ a.device }}</td><td>{{ a['summary_' + lang] }}</td><td><span class="lbl">{{ t('since') }}: </span>{{ fmt_time(a.fired_at) }}</td>
<td>{% if a.resolved_at %}<span class="lbl">{{ t('resolved_at') }}: </span>{{ fmt_time(a.resolved_at) }}{% else %}—{% endif %}</td>
<td>{% if a.acked_by %}<span class="lbl">{{ t('acked_by') }}: </span>{{ a.acked_by }}{% if a.ack_comment %}: {{ a.ack_comment }}{% endif %}{% endif %}</td></tr>{% endfor %}</table></div>{% endblock %}"""

SILENCES = """{% extends "base" %}{% block main %}
<div class="card"><h2>{{ t('silences') }}</h2>
{% if not silences %}<p class="muted" id="no-silences">{{ t('no_silences') }}</p>{% else %}
<table id="silences" class="stack"><tr><th>{{ t('target') }}</th><th>{{ t('starts') }}</th><th>{{ t('ends') }}</th>
<th>{{ t('reason') }}</th><th>{{ t('author') }}</th><th></th></tr>
{% for s in silences %}<tr class="silence-row{{ ' ack-silence' if s.ack }}" data-target="{{ s.target }}" data-id="{{ s.id }}"><td>{{ s.target_text }}{% if s.ack %} <span class="badge info">{{ t('ack') }}</span>{% endif %}</td><td><span class="lbl">{{ t('starts') }}: </span>{{ fmt_time(s.starts) }}</td>
<td><span class="lbl">{{ t('ends') }}: </span>{{ fmt_time(s.ends) }}</td><td>{{ s.reason }}</td>
<td><span class="lbl">{{ t('author') }}: </span>{{ s.author }}</td>
<td>{% if user.role == 'admin' and s.ends > now %}<form method="post" action="/silences/{{ s.id }}/end">
<input type="hidden" name="csrf" value="{{ csrf }}"><button class="end-silence">{{ t('end_now') }}</button></form>{% endif %}</td></tr>
{% endfor %}</table>{% endif %}</div>
{% if user.role == 'admin' %}<div class="card"><h2>{{ t('add_silence') }}</h2>
{% if error %}<p class="err" id="silence-error">{{ error }}</p>{% endif %}
<form method="post" action="/silences" class="silence"><input type="hidden" name="csrf" value="{{ csrf }}">
<label for="s-target">{{ t('target') }}</label><select name="target" id="s-target">
{% for value, text in targets %}<option value="{{ value }}">{{ text }}</option>{% endfor %}</select>
<label for="s-starts">{{ t('starts') }}</label><input type="datetime-local" name="starts" id="s-starts" value="{{ now_local }}">
<label for="s-ends">{{ t('ends') }}</label><input type="datetime-local" name="ends" id="s-ends" value="{{ later_local }}">
<label for="s-reason">{{ t('reason') }}</label><input name="reason" id="s-reason" maxlength="300" required>
<span></span><button id="s-add">{{ t('add_silence') }}</button></form></div>{% endif %}{% endblock %}"""

WALL = """{% extends "base" %}{% block main %}
{% for a in alerts %}<div class="walert {{ a.severity }}" data-rule="{{ a.rule }}" data-device="{{ a.device }}">
{{ t(a.severity) }} · {{ a['summary_' + lang] }} · {{ fmt_time(a.fired_at) }}{% if a.acked_by %} · {{ t('acked_by') }} {{ a.acked_by }}{% endif %}
{% if a.silenced %} · {{ t('silenced') }}{% endif %}</div>{% endfor %}
<div class="tiles">{% for d in devices %}<div class="tile {{ 'maintenance' if d.silence and d.status == 'ok' else d.status }}" id="tile-{{ d.name }}" data-status="{{ d.status }}">
<h2>{{ d.display_name }}</h2><div class="st">{{ t(d.status) }}{% if d.silence %} · {{ t('maintenance') }}{% endif %}</div>
{% for k, v in d.summary[:3] %}<div><span class="muted">{{ k }}:</span> {{ v }}</div>{% endfor %}</div>{% endfor %}</div>{% endblock %}"""

ERROR = """{% extends "base" %}{% block main %}<div class="card"><h2 id="error-message">{{ message }}</h2></div>{% endblock %}"""

CSS += facility_templates.CSS
TEMPLATES = {**facility_templates.TEMPLATES, "base": BASE, "login": LOGIN, "alert_table": ALERT_TABLE, "overview": OVERVIEW, "device": DEVICE,
             "ranges": RANGES, "lines": LINES, "alerts": ALERTS, "silences": SILENCES, "wall": WALL, "error": ERROR}
