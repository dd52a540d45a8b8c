/* SPDX-License-Identifier: MIT */
/* app.js: the batlink web page's live view and history plots. Every text that comes from the
 * bus (or the server) is put in with textContent, never parsed as HTML. */
'use strict';
(function () {
  var POLL_MS = 2000, HIST_MS = { hour: 30000, day: 120000, week: 900000 };
  var range = 'hour', plots = [], lastFrames = null, lastTs = null, lastRate = '–', histTimer = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(v, unit, dec) {
    if (typeof v !== 'number') return '–';
    return (dec === undefined ? String(v) : v.toFixed(dec)) + (unit ? ' ' + unit : '');
  }
  function kv(card, rows) {
    var dl = el('dl', 'kv');
    rows.forEach(function (r) { dl.appendChild(el('dt', '', r[0])); dl.appendChild(el('dd', '', r[1])); });
    card.appendChild(dl);
  }
  function card(title) { var c = el('div', 'card'); c.appendChild(el('h2', '', title)); return c; }
  function tags(box, list, cls) {
    if (!list || !list.length) { box.appendChild(el('span', 'tag ok', 'none')); return; }
    list.forEach(function (s) { box.appendChild(el('span', 'tag ' + cls, String(s).replace(/_/g, ' '))); });
  }
  function reasonOf(br, key) {
    var l = br && br.limits && br.limits[key];
    return l && l.reason ? ' (' + String(l.reason).replace(/_/g, ' ') + ')' : '';
  }

  function renderLive(s) {
    var live = document.getElementById('live'), br = s.bridge || null;
    live.textContent = '';
    live.hidden = false;
    var link = s.link || {};
    var pill = document.getElementById('linkpill');
    pill.textContent = 'link ' + (link.state || '?');
    pill.className = 'pill ' + (link.state || '');
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();

    var c = card('State of charge');
    c.appendChild(el('div', 'big', fmt(s.soc_pct, '%')));
    var bar = el('div', 'socbar'), fill = el('div');
    fill.style.width = Math.max(0, Math.min(100, s.soc_pct || 0)) + '%';
    bar.appendChild(fill); c.appendChild(bar);
    kv(c, [['health', fmt(s.soh_pct, '%')], ['profile', s.profile || '–'],
           ['manufacturer', s.manufacturer || '–'], ['modules', fmt(s.module_count)]]);
    c.id = 'soc'; c.dataset.soc = typeof s.soc_pct === 'number' ? s.soc_pct : '';
    live.appendChild(c);

    c = card('Power');
    c.appendChild(el('div', 'big', fmt(s.power_w, 'W')));
    kv(c, [['voltage', fmt(s.voltage_v, 'V')], ['current', fmt(s.current_a, 'A')],
           ['temperature', fmt(s.temperature_c, '°C')],
           ['direction', typeof s.current_a !== 'number' ? '–' : s.current_a > 0 ? 'charging' :
             s.current_a < 0 ? 'discharging' : 'idle']]);
    live.appendChild(c);

    c = card('Limits');
    kv(c, [['charge voltage', fmt(s.charge_voltage_limit_v, 'V') + reasonOf(br, 'charge_voltage_v')],
           ['charge current', fmt(s.charge_current_limit_a, 'A') + reasonOf(br, 'charge_current_a')],
           ['discharge current', fmt(s.discharge_current_limit_a, 'A') + reasonOf(br, 'discharge_current_a')],
           ['discharge voltage', fmt(s.discharge_voltage_limit_v, 'V') + reasonOf(br, 'discharge_voltage_v')]]);
    var fl = el('div');
    [['charge_enable', 'charge enabled'], ['discharge_enable', 'discharge enabled'],
     ['force_charge_1', 'force charge 1'], ['force_charge_2', 'force charge 2'],
     ['full_charge_request', 'full charge request']].forEach(function (f) {
      if (typeof s[f[0]] !== 'boolean') return;
      var on = s[f[0]], enable = /enable/.test(f[0]);
      fl.appendChild(el('span', 'tag ' + (on ? (enable ? 'ok' : 'warn') : (enable ? 'bad' : '')),
                        f[1] + (on ? '' : ': no')));
    });
    c.appendChild(fl);
    live.appendChild(c);

    c = card('Alarms and warnings');
    var a = el('div'); a.appendChild(el('span', 'muted', 'alarms ')); tags(a, s.alarms, 'bad'); c.appendChild(a);
    var w = el('div'); w.appendChild(el('span', 'muted', 'warnings ')); tags(w, s.warnings, 'warn'); c.appendChild(w);
    live.appendChild(c);

    c = card('Link');
    /* frames per second between two states, by the server's clock */
    var rate = lastRate;
    if (lastFrames !== null && typeof link.frames === 'number' && s.ts - lastTs >= 0.5)
      rate = lastRate = ((link.frames - lastFrames) / (s.ts - lastTs)).toFixed(1) + ' /s';
    if (lastFrames === null || s.ts - lastTs >= 0.5) { lastFrames = link.frames; lastTs = s.ts; }
    var hb = link.inverter_heartbeat || {};
    kv(c, [['state', link.state || '–'], ['frames', fmt(link.frames)], ['frame rate', rate],
           ['errors', fmt(link.errors)], ['last frame', fmt(link.last_frame_age_s, 's ago')],
           ['inverter heartbeat', hb.seen ? fmt(hb.period_s, 's period') : 'not seen'],
           ['conflicting senders', link.conflict_ids && link.conflict_ids.length ?
             link.conflict_ids.join(', ') : 'none (' + fmt(link.conflicts) + ' frames)']]);
    c.appendChild(idTable);
    live.appendChild(c);

    if (br) {
      c = card('Bridge');
      kv(c, [['state', br.state || '–'], ['phase', br.phase || '–'],
             ['BMS link', br.bms && br.bms.port ? br.bms.port : '–'],
             ['charge MOSFET', br.charge_mosfet === undefined ? '–' : br.charge_mosfet ? 'on' : 'off'],
             ['discharge MOSFET', br.discharge_mosfet === undefined ? '–' : br.discharge_mosfet ? 'on' : 'off'],
             ['frames sent', br.can ? fmt(br.can.frames_sent) : '–']]);
      live.appendChild(c);
    }
    renderSite(s.site || (br && br.site) || null);
    renderPacks(Array.isArray(s.packs) ? s.packs : br && Array.isArray(br.packs) ? br.packs : null,
                br && br.bank && typeof br.bank === 'object' ? br.bank : null);
    renderCells(br);
    renderTable(s);
  }

  /* the scalar members of o as rows (nested objects and arrays left out), keys made readable */
  function scalars(o) {
    var rows = [];
    Object.keys(o).forEach(function (k) {
      var v = o[k];
      if (v === null || typeof v === 'object') return;
      rows.push([k.replace(/_/g, ' '), typeof v === 'number' ? String(v) : String(v)]);
    });
    return rows;
  }

  /* site inputs (meters, inverters): shown when the state has a "site" object */
  function renderSite(site) {
    var box = document.getElementById('site');
    box.hidden = !site || typeof site !== 'object';
    if (box.hidden) return;
    box.textContent = '';
    box.appendChild(el('h2', '', 'Site'));
    kv(box, scalars(site));
    if (Array.isArray(site.inputs) && site.inputs.length) {
      var t = el('table', 'ids'), tr = el('tr');
      ['input', 'kind', 'link', 'age', 'good', 'bad', 'last error'].forEach(function (h) {
        tr.appendChild(el('th', '', h));
      });
      t.appendChild(tr);
      site.inputs.forEach(function (x) {
        if (!x || typeof x !== 'object') return;
        var r = el('tr', x.link === 'up' ? '' : 'unknown');
        [x.model ? x.uri + ' (' + x.model + ')' : x.uri, x.kind, x.link, fmt(x.age_s, 's', 1),
         fmt(x.good), fmt(x.bad), x.last_error || ''].forEach(function (v) {
          r.appendChild(el('td', '', v === undefined ? '–' : v));
        });
        t.appendChild(r);
      });
      box.appendChild(t);
    }
  }

  /* several packs (BMS): one card each, shown when the state has a "packs" array */
  function renderPacks(packs, bank) {
    var box = document.getElementById('packs');
    box.hidden = !packs || !packs.length;
    if (box.hidden) return;
    box.textContent = '';
    box.appendChild(el('h2', '', 'Packs'));
    if (bank) kv(box, scalars(bank));
    var grid = el('div', 'grid');
    packs.forEach(function (p, i) {
      if (!p || typeof p !== 'object') return;
      var c = card(p.name || p.id || 'pack ' + (i + 1));
      c.className = 'card pack';
      var rows = scalars(p);
      var cells = Array.isArray(p.cells_v) ? p.cells_v.filter(function (v) { return typeof v === 'number'; }) : [];
      if (cells.length) {
        var mn = Math.min.apply(null, cells), mx = Math.max.apply(null, cells);
        rows.push(['cells', cells.length + ': ' + mn.toFixed(3) + ' .. ' + mx.toFixed(3) + ' V, spread ' +
                   ((mx - mn) * 1000).toFixed(0) + ' mV']);
      }
      kv(c, rows);
      grid.appendChild(c);
    });
    box.appendChild(grid);
  }

  /* the live diagnose (/api/diagnose, monitor only): findings by layer, with next steps */
  var LAYERS = ['', 'configuration', 'physical connection', 'cable', 'electrical environment',
                'protocol and firmware'];
  function renderDiagnose(d) {
    var box = document.getElementById('findings');
    if (!box) return;
    if (!d || typeof d !== 'object') {
      box.textContent = '';
      box.appendChild(el('p', 'muted', 'no diagnose report yet'));
      return;
    }
    box.textContent = '';
    var live = d.live || {};
    var head = el('p');
    head.appendChild(el('span', 'tag ' + (d.verdict === 'ok' ? 'ok' : d.verdict === 'warn' ? 'warn' : 'bad'),
                        'verdict ' + (d.verdict || '?')));
    head.appendChild(el('span', 'muted', ' profile ' + (d.profile || '?') + ', ' + fmt(d.frames) +
                        ' frames over ' + fmt(live.covers_s, 's', 0) + ' (' + (live.report || 'report') +
                        ' of ' + fmt(live.window_s, 's', 0) + ')'));
    box.appendChild(head);
    var f = Array.isArray(d.findings) ? d.findings : [];
    if (!f.length) { box.appendChild(el('p', '', 'no findings')); return; }
    var last = -1, ul = null;
    f.slice().sort(function (a, b) { return (a.layer || 0) - (b.layer || 0); }).forEach(function (x) {
      if (x.layer !== last) {
        last = x.layer;
        box.appendChild(el('h3', '', 'layer ' + x.layer + ': ' + (LAYERS[x.layer] || '?')));
        ul = el('ul', 'findings');
        box.appendChild(ul);
      }
      var li = el('li', 'finding');
      li.dataset.code = String(x.code || '');
      li.appendChild(el('span', 'tag ' + (x.severity === 'fail' ? 'bad' : x.severity === 'warn' ? 'warn' : ''),
                        x.severity || '?'));
      li.appendChild(el('strong', '', ' ' + (x.message || '')));
      if (x.evidence) li.appendChild(el('div', 'muted', 'evidence: ' + x.evidence));
      if (x.next_step) li.appendChild(el('div', 'next', 'next: ' + x.next_step));
      ul.appendChild(li);
    });
  }
  function pollDiagnose() {
    fetch('/api/diagnose', { cache: 'no-store' }).then(function (r) { return r.ok ? r.json() : null; })
      .then(renderDiagnose).catch(function () {})
      .then(function () { setTimeout(pollDiagnose, 10000); });
  }

  function renderCells(br) {
    var box = document.getElementById('cells');
    var cells = br && Array.isArray(br.cells_v) ? br.cells_v : null;
    box.hidden = !cells || !cells.length;
    if (box.hidden) return;
    box.textContent = '';
    box.appendChild(el('h2', '', 'Cells'));
    var min = Math.min.apply(null, cells), max = Math.max.apply(null, cells);
    var lo = min - 0.02, hi = max + 0.01, row = el('div', 'cells');
    cells.forEach(function (v, i) {
      var b = el('div', 'cell' + (v === min ? ' min' : v === max ? ' max' : '') );
      b.style.height = Math.max(4, 100 * (v - lo) / (hi - lo)) + '%';
      b.title = 'cell ' + (i + 1) + ': ' + v.toFixed(3) + ' V';
      row.appendChild(b);
    });
    box.appendChild(row);
    kv(box, [['min', min.toFixed(3) + ' V (cell ' + (cells.indexOf(min) + 1) + ')'],
             ['max', max.toFixed(3) + ' V (cell ' + (cells.indexOf(max) + 1) + ')'],
             ['spread', ((max - min) * 1000).toFixed(0) + ' mV'],
             ['balancing', br.balancing ? 'yes' : 'no']]);
  }

  function renderTable(s) {
    var t = document.getElementById('now'), rows = [];
    (function flat(o, p) {
      Object.keys(o).forEach(function (k) {
        var v = o[k];
        if (v && typeof v === 'object' && !Array.isArray(v)) flat(v, p + k + '.');
        else rows.push([p + k, typeof v === 'string' ? v : JSON.stringify(v)]);
      });
    })(s, '');
    t.textContent = '';
    rows.forEach(function (r) {
      var tr = el('tr'); tr.appendChild(el('th', '', r[0])); tr.appendChild(el('td', '', r[1]));
      t.appendChild(tr);
    });
  }

  /* frames per CAN id (/api/ids, monitor only), every 10 s */
  var idTable = el('table', 'ids'), polls = 0;
  function renderIds(d) {
    idTable.textContent = '';
    if (!d || !Array.isArray(d.ids) || !d.ids.length) return;
    var tr = el('tr');
    ['id', 'frames', 'rate', 'age'].forEach(function (h) { tr.appendChild(el('th', '', h)); });
    idTable.appendChild(tr);
    d.ids.forEach(function (x) {
      var r = el('tr', x.conflicts ? 'conflict' : x.decoded ? '' : 'unknown');
      [x.id, x.frames, fmt(x.rate_hz, '/s', 2), fmt(x.age_s, 's', 1)].forEach(function (v) {
        r.appendChild(el('td', '', v));
      });
      r.title = (x.decoded ? 'decoded' : 'not decoded by the profile') +
        (x.conflicts ? ', ' + x.conflicts + ' frames from a second sender' : '');
      idTable.appendChild(r);
    });
  }

  function poll() {
    if (polls++ % 5 === 0)
      fetch('/api/ids', { cache: 'no-store' }).then(function (r) { return r.ok ? r.json() : null; })
        .then(renderIds).catch(function () {});
    fetch('/api/state', { cache: 'no-store' }).then(function (r) { return r.json(); })
      .then(renderLive).catch(function () {
        var pill = document.getElementById('linkpill');
        pill.textContent = 'batlink not reachable'; pill.className = 'pill down';
      }).then(function () { setTimeout(poll, POLL_MS); });
  }

  var CHARTS = [
    /* span: the least range of the y axis, so that noise does not fill the plot */
    { title: 'State of charge (%)', span: 100, series: [['soc', 'SOC %', '#1a8f4c']] },
    { title: 'Power (W, + = charging)', span: 200, series: [['power', 'power W', '#1565c0']] },
    { title: 'Voltage (V)', span: 2, series: [['voltage', 'voltage V', '#6a1b9a']] },
    { title: 'Current and limits (A)', span: 20, series: [['current', 'current A', '#1565c0'],
      ['ccl', 'charge limit A', '#1a8f4c'], ['dcl', 'discharge limit A', '#c62828']] },
    { title: 'Temperature (°C)', span: 10, series: [['temp', 'temperature °C', '#e65100']] },
    { title: 'Cell spread (mV)', span: 20, series: [['spread', 'spread mV', '#c47d00']] }
  ];

  function spanRange(span) {
    return function (u, min, max) {
      if (min === null || max === null) return [0, span];
      if (span === 100 && min >= 0 && max <= 100) return [0, 100];
      var mid = (min + max) / 2, half = Math.max(span / 2, (max - min) / 2 * 1.1);
      if (min >= 0 && mid - half < 0) return [0, Math.max(span, max * 1.1)];
      return [mid - half, mid + half];
    };
  }

  function drawHistory(h) {
    var box = document.getElementById('charts');
    document.getElementById('history').hidden = false;
    plots.forEach(function (p) { p.destroy(); });
    plots = [];
    box.textContent = '';
    CHARTS.forEach(function (ch) {
      var div = el('div', 'chart'), data = [h.t], n = 0;
      div.appendChild(el('h3', '', ch.title));
      ch.series.forEach(function (s) {
        var col = h[s[0]] || [];
        col.forEach(function (v) { if (v !== null) n++; });
        data.push(col);
      });
      div.dataset.points = String(n);
      div.dataset.key = ch.series[0][0];
      div.hidden = n === 0; /* e.g. no cell voltages from this battery */
      box.appendChild(div);
      var w = Math.max(200, div.clientWidth || box.clientWidth || 320);
      var opts = {
        width: w, height: 180, legend: { show: ch.series.length > 1, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: spanRange(ch.span) } },
        axes: [{ stroke: '#8895a2', grid: { stroke: 'rgba(128,128,128,.15)' } },
               { stroke: '#8895a2', grid: { stroke: 'rgba(128,128,128,.15)' }, size: 60 }],
        series: [{}].concat(ch.series.map(function (s) {
          return { label: s[1], stroke: s[2], width: 1.5, spanGaps: false };
        }))
      };
      plots.push(new uPlot(opts, data, div));
    });
  }

  function loadHistory() {
    clearTimeout(histTimer);
    fetch('/api/history?range=' + range, { cache: 'no-store' }).then(function (r) { return r.json(); })
      .then(drawHistory).catch(function () {})
      .then(function () { histTimer = setTimeout(loadHistory, HIST_MS[range]); });
  }

  document.querySelectorAll('#ranges button').forEach(function (b) {
    b.addEventListener('click', function () {
      range = b.dataset.range;
      document.querySelectorAll('#ranges button').forEach(function (x) {
        x.className = x === b ? 'on' : '';
      });
      loadHistory();
    });
  });
  /* the plots follow their boxes' width (a window resize, a scroll bar that appears) */
  function fit() {
    plots.forEach(function (p) {
      var w = Math.max(200, p.root.parentNode.clientWidth);
      if (Math.abs(w - p.width) > 1) p.setSize({ width: w, height: 180 });
    });
  }
  if (window.ResizeObserver) new ResizeObserver(fit).observe(document.getElementById('charts'));
  else window.addEventListener('resize', fit);
  poll();
  loadHistory();
  if (document.getElementById('findings')) pollDiagnose();
})();
