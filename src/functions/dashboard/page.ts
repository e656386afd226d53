/**
 * The operator's dashboard: one HTML page, its style sheet and its script (plain DOM, no framework),
 * kept as strings because the build (tsc) emits only compiled TypeScript. The page reads the open
 * GET routes of the waves API and sends the function key, which the operator types in and the
 * browser keeps in sessionStorage, only with the mutating routes (as `x-functions-key`).
 */

export interface PageLinks {
  /** Path of the waves API, e.g. `/api`. */
  api: string;
  /** Path of the dashboard itself, e.g. `/api/dashboard`; its assets are below it. */
  self: string;
  /** Every stage in pipeline order (src/domain/lifecycle.ts). */
  stages: readonly string[];
}

function attribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function dashboardHtml(links: PageLinks): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Waves - VM Migration Factory</title>
<meta name="factory-api" content="${attribute(links.api)}">
<meta name="factory-stages" content="${attribute(links.stages.join(','))}">
<link rel="stylesheet" href="${attribute(links.self)}/app.css">
<script src="${attribute(links.self)}/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <h1>VM Migration Factory</h1>
  <div class="key-state">
    <span id="key-state">Function key: not set</span>
    <button type="button" id="set-key">Set key</button>
    <button type="button" id="forget-key" hidden>Forget key</button>
  </div>
</header>
<main id="main">
  <p id="status" class="status" role="status" aria-live="polite"></p>
  <p id="alert" class="alert" role="alert"></p>
  <div class="columns">
    <section aria-labelledby="waves-heading" class="waves">
      <h2 id="waves-heading">Waves</h2>
      <table id="waves">
        <caption>Newest first. Choose a wave to see its machines.</caption>
        <thead><tr><th scope="col">Wave</th><th scope="col">Status</th><th scope="col">Machines</th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="no-waves" hidden>No wave yet. Start one with <code>factory waves start PLAN</code>.</p>
    </section>
    <div class="detail">
      <section id="wave" aria-labelledby="wave-heading" hidden>
        <h2 id="wave-heading">Wave</h2>
        <dl id="wave-facts" class="facts"></dl>
        <div class="actions" role="group" aria-label="Wave actions">
          <button type="button" id="approve-all">Approve all awaiting</button>
          <button type="button" id="pause">Pause</button>
          <button type="button" id="resume">Resume</button>
          <button type="button" id="cancel" class="danger">Cancel wave</button>
          <a id="report" href="#">Download report (CSV)</a>
        </div>
        <h3 id="counts-heading">Machines by stage</h3>
        <ul id="counts" class="counts" aria-labelledby="counts-heading"></ul>
        <h3 id="machines-heading">Machines</h3>
        <label class="filter">Show stage
          <select id="stage-filter"><option value="">All stages</option></select>
        </label>
        <table id="machines" aria-labelledby="machines-heading">
          <thead><tr><th scope="col">Machine</th><th scope="col">Stage</th><th scope="col">Progress</th><th scope="col">Error and recommended action</th><th scope="col">Actions</th></tr></thead>
          <tbody></tbody>
        </table>
        <button type="button" id="more" hidden>Show more machines</button>
      </section>
      <section id="timeline" aria-labelledby="timeline-heading" hidden>
        <h2 id="timeline-heading" tabindex="-1">Timeline</h2>
        <dl id="machine-facts" class="facts"></dl>
        <ol id="events" class="events"></ol>
        <button type="button" id="close-timeline">Close timeline</button>
      </section>
    </div>
  </div>
  <p class="refreshed">Refreshed every 3 seconds. <span id="refreshed"></span></p>
</main>
<dialog id="key-dialog" aria-labelledby="key-dialog-heading">
  <form method="dialog">
    <h2 id="key-dialog-heading">Function key</h2>
    <p id="key-dialog-reason">Changing a wave needs a function key of the Function App.</p>
    <p>The key stays in this browser tab (sessionStorage) and is sent only with the changes you make.</p>
    <label>Function key <input type="password" id="key-input" name="key" autocomplete="off" required></label>
    <label>Your name (recorded as the approver) <input type="text" id="actor-input" name="actor" autocomplete="name" required></label>
    <div class="actions">
      <button value="save">Save</button>
      <button value="cancel" formnovalidate>Cancel</button>
    </div>
  </form>
</dialog>
</body>
</html>
`;
}

export const DASHBOARD_STYLE = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0b5cad;
  --done: #1a7f37; --failed: #cf222e; --waiting: #9a6700; --active: #0b5cad; --cancelled: #6e7781; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f6f8fa; }
header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem;
  padding: 0.75rem 1.25rem; background: #0d2a4a; color: #fff; }
header h1 { margin: 0; font-size: 1.25rem; }
.key-state { display: flex; gap: 0.5rem; align-items: center; }
main { padding: 1rem 1.25rem; }
.skip { position: absolute; left: -999px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.skip:focus { left: 0.5rem; top: 0.5rem; background: #fff; padding: 0.25rem 0.5rem; z-index: 10; }
.columns { display: grid; grid-template-columns: minmax(16rem, 22rem) 1fr; gap: 1.25rem; align-items: start; }
@media (max-width: 900px) { .columns { grid-template-columns: 1fr; } }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem 1rem; margin-bottom: 1rem; }
h2 { margin: 0 0 0.5rem; font-size: 1.1rem; }
h3 { margin: 1rem 0 0.5rem; font-size: 1rem; }
table { width: 100%; border-collapse: collapse; }
caption { text-align: left; color: var(--muted); font-size: 0.85rem; padding-bottom: 0.25rem; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); }
tbody th { font-weight: 600; overflow-wrap: anywhere; }
button, .actions a { font: inherit; padding: 0.3rem 0.7rem; border: 1px solid var(--line); border-radius: 5px;
  background: #fff; color: var(--ink); cursor: pointer; text-decoration: none; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { color: var(--muted); cursor: not-allowed; opacity: 0.6; }
button:focus-visible, a:focus-visible, select:focus-visible, input:focus-visible { outline: 3px solid #f0b400; outline-offset: 1px; }
header button { background: transparent; color: #fff; border-color: #6b8bb0; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--failed); }
.link { border: none; background: none; padding: 0; color: var(--accent); text-decoration: underline; text-align: left; }
.link[aria-current="true"] { font-weight: 700; color: var(--ink); text-decoration: none; }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 0.5rem 0; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 0.75rem; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.counts { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.25rem; }
.counts li { display: grid; grid-template-columns: 10rem 1fr 3rem; gap: 0.5rem; align-items: center; }
.bar { height: 0.9rem; background: #eaeef2; border-radius: 3px; overflow: hidden; }
.bar span { display: block; height: 100%; background: var(--active); }
.bar .Done { background: var(--done); }
.bar .Failed { background: var(--failed); }
.bar .AwaitingApproval { background: var(--waiting); }
.bar .Cancelled { background: var(--cancelled); }
.count { text-align: right; font-variant-numeric: tabular-nums; }
.stage { font-weight: 600; }
.stage.Done { color: var(--done); }
.stage.Failed { color: var(--failed); }
.stage.AwaitingApproval { color: var(--waiting); }
.stage.Cancelled { color: var(--cancelled); }
progress { width: 6rem; vertical-align: middle; }
.error-code { font-family: ui-monospace, monospace; font-size: 0.85rem; }
.advice { color: var(--muted); }
.filter { display: inline-flex; gap: 0.5rem; align-items: center; margin-bottom: 0.5rem; }
.events { padding-left: 1.25rem; }
.events li { margin-bottom: 0.35rem; }
.events time { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: 0.5rem; }
.status:empty, .alert:empty { display: none; }
.status { padding: 0.5rem 0.75rem; background: #ddf4ff; border: 1px solid #54aeff; border-radius: 6px; }
.alert { padding: 0.5rem 0.75rem; background: #ffebe9; border: 1px solid #ff8182; border-radius: 6px; }
.refreshed { color: var(--muted); font-size: 0.85rem; }
dialog { border: 1px solid var(--line); border-radius: 8px; max-width: 28rem; }
dialog label { display: grid; gap: 0.25rem; margin: 0.75rem 0; }
dialog input { font: inherit; padding: 0.35rem; }
`;

/**
 * The page's behaviour. Plain script (no template literals, so it can live in this string), run
 * after the document is parsed. Everything the API returns goes into the page as text nodes,
 * never as markup.
 */
export const DASHBOARD_SCRIPT = String.raw`'use strict';
(function () {
  var API = document.querySelector('meta[name="factory-api"]').getAttribute('content');
  var STAGES = document.querySelector('meta[name="factory-stages"]').getAttribute('content').split(',');
  var KEY_ITEM = 'factory.functionKey';
  var ACTOR_ITEM = 'factory.actor';
  /** Real ms between two reads of the waves. */
  var REFRESH_MS = 3000;
  var PAGE_SIZE = 100;
  var FINAL = ['Done', 'Failed', 'Cancelled'];

  var state = { waveId: '', stage: '', pageSize: PAGE_SIZE, wave: null, timelineOf: '', timer: 0 };
  var rendered = { waves: '', wave: '', timeline: '' };

  function $(id) { return document.getElementById(id); }

  function h(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === undefined || value === null || value === false) return;
      if (name.slice(0, 2) === 'on') node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : String(value));
    });
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
    else node.append(child instanceof Node ? child : String(child));
  }

  function when(iso) {
    if (!iso) return '';
    var date = new Date(iso);
    return isNaN(date.getTime()) ? iso : date.toLocaleString();
  }

  function say(message) { $('alert').textContent = ''; $('status').textContent = message; }
  function warn(message) { $('status').textContent = ''; $('alert').textContent = message; }

  async function problemText(res) {
    var text = await res.text();
    try {
      var problem = JSON.parse(text);
      return (problem.title || res.statusText) + (problem.detail ? ': ' + problem.detail : '');
    } catch (e) {
      return res.status + ' ' + (text || res.statusText);
    }
  }

  /** Reads are open; should a deployment close them, the key is asked for and sent with reads too. */
  async function read(path) {
    var key = sessionStorage.getItem(KEY_ITEM);
    var headers = { accept: 'application/json' };
    if (state.readsNeedKey && key) headers['x-functions-key'] = key;
    var res = await fetch(API + path, { headers: headers, cache: 'no-store' });
    if ((res.status === 401 || res.status === 403) && !state.readsNeedKey) {
      state.readsNeedKey = true;
      if (key || (await askForKey('Reading waves needs a function key here.'))) return read(path);
    }
    if (!res.ok) throw new Error(await problemText(res));
    return res.json();
  }

  function showKeyState() {
    var set = Boolean(sessionStorage.getItem(KEY_ITEM));
    var actor = sessionStorage.getItem(ACTOR_ITEM);
    $('key-state').textContent = set ? 'Function key: set' + (actor ? ' (acting as ' + actor + ')' : '') : 'Function key: not set';
    $('forget-key').hidden = !set;
  }

  function askForKey(reason) {
    var dialog = $('key-dialog');
    $('key-dialog-reason').textContent = reason;
    $('key-input').value = '';
    $('actor-input').value = sessionStorage.getItem(ACTOR_ITEM) || '';
    return new Promise(function (resolve) {
      dialog.addEventListener('close', function onClose() {
        dialog.removeEventListener('close', onClose);
        var saved = dialog.returnValue === 'save';
        if (saved) {
          sessionStorage.setItem(KEY_ITEM, $('key-input').value.trim());
          sessionStorage.setItem(ACTOR_ITEM, $('actor-input').value.trim());
        }
        $('key-input').value = '';
        showKeyState();
        resolve(saved);
      });
      dialog.returnValue = '';
      dialog.showModal();
    });
  }

  /** A change: needs the key (asked for once per tab) and says who acts. */
  async function act(path, body, what) {
    if (!sessionStorage.getItem(KEY_ITEM) || !sessionStorage.getItem(ACTOR_ITEM)) {
      if (!(await askForKey(what + ' needs a function key of the Function App.'))) return;
    }
    var res;
    try {
      res = await fetch(API + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-functions-key': sessionStorage.getItem(KEY_ITEM) },
        body: JSON.stringify(Object.assign({ approver: sessionStorage.getItem(ACTOR_ITEM) }, body || {})),
      });
    } catch (e) {
      warn(what + ' failed: the factory API cannot be reached.');
      return;
    }
    if (res.status === 401 || res.status === 403) {
      sessionStorage.removeItem(KEY_ITEM);
      showKeyState();
      warn(what + ' refused: the function key is not valid here. Set the key again.');
      return;
    }
    if (!res.ok) {
      warn(what + ' failed: ' + (await problemText(res)));
      return;
    }
    say(what + ' requested.');
    await refresh();
  }

  function waveBase() { return '/waves/' + encodeURIComponent(state.waveId); }

  function renderWaves(items) {
    var json = JSON.stringify([items, state.waveId]);
    if (json === rendered.waves) return;
    rendered.waves = json;
    var body = $('waves').tBodies[0];
    body.replaceChildren.apply(body, items.map(function (wave) {
      var current = wave.id === state.waveId;
      return h('tr', {},
        h('td', {}, h('button', {
          type: 'button', class: 'link', 'aria-current': current ? 'true' : false,
          onclick: function () { location.hash = 'wave=' + encodeURIComponent(wave.id); },
        }, wave.name), h('br'), h('small', {}, when(wave.createdAt))),
        h('td', {}, wave.status, h('br'), h('small', {}, 'cut-over: ' + wave.cutover)),
        h('td', { class: 'count' }, String(wave.machineCount)));
    }));
    $('no-waves').hidden = items.length > 0;
  }

  function fact(list, name, value) {
    if (value === undefined || value === null || value === '') return;
    list.push(h('dt', {}, name), h('dd', {}, value));
  }

  function stageText(machine) {
    return machine.stage === 'Failed' && machine.failedStage ? 'Failed (in ' + machine.failedStage + ')' : machine.stage;
  }

  function errorCell(machine) {
    var error = machine.error;
    if (!error || machine.stage === 'Done') return '';
    return [
      error.code ? h('span', { class: 'error-code' }, error.code + ': ') : '',
      error.message || '',
      error.recommendedAction ? h('div', { class: 'advice' }, 'Recommended action: ' + error.recommendedAction) : '',
      error.possibleCauses ? h('div', { class: 'advice' }, 'Possible causes: ' + error.possibleCauses) : '',
    ];
  }

  function machineRow(machine) {
    var buttons = [h('button', {
      type: 'button', 'aria-label': 'Timeline of ' + machine.name,
      onclick: function () { openTimeline(machine.name); },
    }, 'Timeline')];
    if (machine.stage === 'AwaitingApproval') {
      buttons.push(h('button', {
        type: 'button', class: 'primary', 'aria-label': 'Approve cut-over of ' + machine.name,
        onclick: function () {
          act(waveBase() + '/machines/' + encodeURIComponent(machine.name) + '/approve', {}, 'Approval of ' + machine.name);
        },
      }, 'Approve'));
    }
    if (machine.stage === 'Failed') {
      buttons.push(h('button', {
        type: 'button', 'aria-label': 'Retry ' + machine.name,
        onclick: function () {
          act(waveBase() + '/machines/' + encodeURIComponent(machine.name) + '/retry', {}, 'Retry of ' + machine.name);
        },
      }, 'Retry'));
    }
    var progress = typeof machine.progressPercent === 'number' && FINAL.indexOf(machine.stage) < 0
      ? [h('progress', { max: 100, value: machine.progressPercent, 'aria-label': 'Progress of ' + machine.name }), ' ' + Math.round(machine.progressPercent) + '%']
      : '';
    return h('tr', {},
      h('th', { scope: 'row' }, machine.name),
      h('td', {}, h('span', { class: 'stage ' + machine.stage }, stageText(machine)), h('br'), h('small', {}, 'since ' + when(machine.stageChangedAt))),
      h('td', {}, progress),
      h('td', {}, errorCell(machine)),
      h('td', {}, h('div', { class: 'actions' }, buttons)));
  }

  function renderWave(wave) {
    state.wave = wave;
    var json = JSON.stringify(wave);
    if (json === rendered.wave) return;
    rendered.wave = json;
    $('wave').hidden = false;
    $('wave-heading').textContent = 'Wave ' + wave.name;
    var facts = [];
    var final = FINAL.reduce(function (sum, stage) { return sum + (wave.counts[stage] || 0); }, 0);
    fact(facts, 'Status', wave.status);
    fact(facts, 'Machines', final + ' of ' + wave.machineCount + ' finished');
    fact(facts, 'Cut-over', wave.cutover);
    fact(facts, 'Created', when(wave.createdAt) + (wave.createdBy ? ' by ' + wave.createdBy : ''));
    fact(facts, 'Completed', when(wave.completedAt));
    fact(facts, 'Wave id', wave.id);
    $('wave-facts').replaceChildren.apply($('wave-facts'), facts);

    var awaiting = wave.counts.AwaitingApproval || 0;
    var running = wave.status === 'Running';
    var paused = wave.status === 'Paused';
    $('approve-all').textContent = 'Approve all awaiting (' + awaiting + ')';
    $('approve-all').disabled = awaiting === 0;
    $('pause').disabled = !running;
    $('resume').disabled = !paused;
    $('cancel').disabled = !running && !paused;
    $('report').setAttribute('href', API + waveBase() + '/report.csv');

    var total = Math.max(wave.machineCount, 1);
    var counts = STAGES.filter(function (stage) { return (wave.counts[stage] || 0) > 0; }).map(function (stage) {
      var n = wave.counts[stage];
      var fill = h('span', { class: stage });
      fill.style.width = (100 * n / total).toFixed(1) + '%';
      return h('li', {}, h('span', { class: 'stage-name' }, stage),
        h('span', { class: 'bar', 'aria-hidden': 'true' }, fill),
        h('span', { class: 'count' }, String(n), h('span', { class: 'visually-hidden' }, ' of ' + wave.machineCount)));
    });
    $('counts').replaceChildren.apply($('counts'), counts);

    var body = $('machines').tBodies[0];
    body.replaceChildren.apply(body, wave.machines.map(machineRow));
    // The API pages at most 1000 machines; beyond that the stage filter narrows the list.
    $('more').hidden = !wave.continuationToken || state.pageSize >= 1000;
  }

  async function openTimeline(name) {
    state.timelineOf = name;
    rendered.timeline = '';
    await loadTimeline();
    $('timeline-heading').focus();
  }

  async function loadTimeline() {
    if (!state.timelineOf || !state.waveId) return;
    var machine = await read(waveBase() + '/machines/' + encodeURIComponent(state.timelineOf));
    var json = JSON.stringify(machine);
    if (json === rendered.timeline) return;
    rendered.timeline = json;
    $('timeline').hidden = false;
    $('timeline-heading').textContent = 'Timeline of ' + machine.name;
    var facts = [];
    fact(facts, 'Stage', stageText(machine));
    fact(facts, 'Approved', machine.approvedBy ? machine.approvedBy + ' at ' + when(machine.approvedAt) : '');
    fact(facts, 'Target VM', machine.targetVmId);
    fact(facts, 'Migration item', machine.migrationItemId);
    $('machine-facts').replaceChildren.apply($('machine-facts'), facts);
    var events = (machine.timeline || []).map(function (event) {
      var what = event.kind === 'Approved'
        ? 'Cut-over approved' + (event.actor ? ' by ' + event.actor : '')
        : (event.from ? event.from + ' \u2192 ' : '') + (event.to || event.kind) + (event.actor ? ' (' + event.actor + ')' : '');
      return h('li', {},
        h('time', { datetime: event.at }, when(event.at)), what,
        event.reason ? h('div', { class: 'advice' }, event.reason) : '',
        event.error ? h('div', {}, errorCell({ error: event.error, stage: 'Failed' })) : '');
    });
    $('events').replaceChildren.apply($('events'), events);
  }

  async function refresh() {
    clearTimeout(state.timer);
    try {
      var list = await read('/waves?pageSize=50');
      renderWaves(list.items);
      if (state.waveId) {
        var query = '?pageSize=' + state.pageSize + (state.stage ? '&stage=' + encodeURIComponent(state.stage) : '');
        renderWave(await read(waveBase() + query));
        await loadTimeline();
      }
      $('refreshed').textContent = 'Last read ' + new Date().toLocaleTimeString() + '.';
    } catch (e) {
      warn('Cannot read the waves: ' + e.message);
    }
    state.timer = setTimeout(refresh, REFRESH_MS);
  }

  function selectFromHash() {
    var match = /^#wave=(.+)$/.exec(location.hash);
    var waveId = match ? decodeURIComponent(match[1]) : '';
    if (waveId === state.waveId) return;
    state.waveId = waveId;
    state.pageSize = PAGE_SIZE;
    state.timelineOf = '';
    rendered.wave = '';
    rendered.waves = '';
    $('timeline').hidden = true;
    $('wave').hidden = !waveId;
    refresh();
  }

  function wire() {
    var filter = $('stage-filter');
    STAGES.forEach(function (stage) { filter.append(h('option', { value: stage }, stage)); });
    filter.addEventListener('change', function () { state.stage = filter.value; refresh(); });
    $('more').addEventListener('click', function () { state.pageSize = Math.min(state.pageSize + PAGE_SIZE, 1000); refresh(); });
    $('approve-all').addEventListener('click', function () { act(waveBase() + '/approve', {}, 'Approval of every machine awaiting it'); });
    $('pause').addEventListener('click', function () { act(waveBase() + '/pause', {}, 'Pause'); });
    $('resume').addEventListener('click', function () { act(waveBase() + '/resume', {}, 'Resume'); });
    $('cancel').addEventListener('click', function () {
      if (confirm('Cancel wave ' + (state.wave ? state.wave.name : state.waveId) + '? Machines not yet migrated stop and are cleaned up.')) {
        act(waveBase() + '/cancel', {}, 'Cancellation');
      }
    });
    $('close-timeline').addEventListener('click', function () { state.timelineOf = ''; $('timeline').hidden = true; });
    $('set-key').addEventListener('click', function () { askForKey('Set the function key used for changes.'); });
    $('forget-key').addEventListener('click', function () {
      sessionStorage.removeItem(KEY_ITEM);
      showKeyState();
      say('The function key was forgotten.');
    });
    window.addEventListener('hashchange', selectFromHash);
    showKeyState();
    if (location.hash) selectFromHash();
    else refresh();
  }

  wire();
})();
`;
