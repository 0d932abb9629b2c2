"""Templates of the facility-alarm and data-quality sections of the NOC page (see facility.py)."""

CSS = """
.malformed,.rejected,.deadline,.error{background:var(--crit)}.implausible,.profile_matched_nothing{background:var(--warn)}
.never_polled{background:var(--unk)}
tr.dev-malformed td:first-child,tr.dev-rejected td:first-child,tr.dev-deadline td:first-child,
tr.dev-error td:first-child{border-left:6px solid var(--crit)}
body.wall .tile.malformed,body.wall .tile.rejected,body.wall .tile.deadline,body.wall .tile.error{border-left-color:#ef4444;
background:#450a0a}
#facility tr.fac-alarm td{background:#fee2e2;font-weight:600}#facility tr.fac-unknown td,#facility tr.fac-missing td{background:#fef3c7}
.quality-detail{font-size:12px}
"""

# The section titles carry ids the tests and the wall screen's operators can rely on.
FACILITY = """{% macro facility_section(alarms) %}<div class="card" id="facility-card"><h2>{{ t('facility_alarms') }}</h2>
{% if not alarms %}<p class="muted" id="no-facility">{{ t('no_facility') }}</p>{% else %}
<table id="facility" class="stack"><tr><th>{{ t('fac_watch') }}</th><th>{{ t('status') }}</th><th>{{ t('fac_input') }}</th>
<th>{{ t('fac_sensor') }}</th><th>{{ t('last_poll') }}</th></tr>
{% for a in alarms %}<tr class="fac-row fac-{{ a.state }}" data-role="{{ a.role }}" data-device="{{ a.device }}" data-state="{{ a.state }}">
<td>{{ t('role_' + a.role) }}{% if a.system %}<br><span class="muted">{{ a.system }}</span>{% endif %}</td>
<td><span class="badge {{ a.css }} fac-state">{{ t('fac_' + a.state) }}</span>
{% if a.sensor_state %}<div class="muted quality-detail">{{ t(a.sensor_state) }}</div>{% endif %}</td>
<td>{{ a.input }}</td><td><a href="/device/{{ a.device|urlencode }}">{{ a.display_name }}</a></td>
<td>{{ fmt_time(a.ts) }}</td></tr>{% endfor %}</table>{% endif %}</div>{% endmacro %}"""

QUALITY = """{% macro quality_badge(state) %}{% if state not in ('ok',) %}<span class="badge {{ state }} quality"
data-quality="{{ state }}">{{ t('q_' + state) }}</span>{% endif %}{% endmacro %}
{% macro quality_section(devs) %}{% if devs %}<div class="card" id="quality-card"><h2>{{ t('data_quality') }}</h2>
<p class="muted">{{ t('quality_note') }}</p>
<table id="quality" class="stack"><tr><th>{{ t('device') }}</th><th>{{ t('status') }}</th><th>{{ t('summary') }}</th></tr>
{% for d in devs %}<tr class="quality-row" data-device="{{ d.name }}" data-quality="{{ d.quality }}">
<td><a href="/device/{{ d.name|urlencode }}">{{ d.display_name }}</a><br><span class="muted">{{ d.name }}</span></td>
<td>{{ quality_badge(d.quality) }}</td><td class="quality-detail">{{ t('qd_' + d.quality) }}{% if d.error %}<pre>{{ d.error }}</pre>{% endif %}</td></tr>
{% endfor %}</table></div>{% endif %}{% endmacro %}"""

TEMPLATES = {"facility": FACILITY, "quality": QUALITY}
