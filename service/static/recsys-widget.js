/* recsys: a member's daily study list as a web component, <recsys-daily>.
 *
 *   <script src="https://RECSYS-HOST/static/recsys-widget.js" defer></script>
 *   <recsys-daily token="MEMBER-TOKEN" base="https://RECSYS-HOST"></recsys-daily>
 *
 * Attributes: token (a member token from POST /v1/members/{id}/token, made by the portal's back
 * end; never an organisation key), base (the service's address; default: where this script came
 * from), view ("list": today's list, the default; "full": the whole member page, as /m shows it).
 * Plain JavaScript, no build step, nothing loaded from anywhere but `base`.
 */
(function () {
  'use strict';

  var SCRIPT_BASE = (function () {
    var s = document.currentScript;
    try { return s && s.src ? new URL(s.src).origin : window.location.origin; } catch (e) { return ''; }
  })();

  var LARGE_KEY = 'recsys-large-type';

  /* The member a token acts for: its payload names them (the server checks the signature). */
  function tokenMember(token) {
    try {
      var part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      while (part.length % 4) part += '=';
      var bytes = Uint8Array.from(atob(part), function (c) { return c.charCodeAt(0); });
      return JSON.parse(new TextDecoder().decode(bytes)).m;
    } catch (e) { return null; }
  }

  /* A DOM element with attributes and children; text is always set as text, never as HTML. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      // Styles through the CSSOM: the page's Content-Security-Policy blocks style attributes.
      else if (k === 'style') Object.keys(v).forEach(function (p) { el.style[p] = v[p]; });
      else el.setAttribute(k, v === true ? '' : String(v));
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      (Array.isArray(c) ? c : [c]).forEach(function (x) {
        if (x === null || x === undefined || x === false) return;
        el.appendChild(typeof x === 'string' || typeof x === 'number' ? document.createTextNode(String(x)) : x);
      });
    }
    return el;
  }

  /* An activity's time as written by the service (Asia/Shanghai, with its offset), whatever the
   * browser's own time zone. */
  function cnDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso);
    if (!m) return iso;
    var week = '日一二三四五六'.charAt(new Date(Date.UTC(+m[1], m[2] - 1, +m[3])).getUTCDay());
    return Number(m[2]) + '月' + Number(m[3]) + '日（周' + week + '）' + m[4] + ':' + m[5];
  }

  function today(iso) {
    var p = iso.split('-');
    return Number(p[0]) + '年' + Number(p[1]) + '月' + Number(p[2]) + '日';
  }

  /* What a refused request means to a member. */
  function refusal(status, body, what) {
    var message = (body && body.error && body.error.message) || '';
    if (status === 401) return '登录已过期，请回到推送链接的群或党建平台重新打开“每日学习”。';
    if (status === 409 && /full/.test(message)) return what + '未成功：该活动名额已满。';
    if (status === 409 && /is over/.test(message)) return what + '未成功：该活动已经结束。';
    if (status === 409 && /offline/.test(message)) return what + '未成功：您目前不参加线下活动，可选择线上学习。';
    if (status === 404) return what + '未成功：没有找到这项内容。';
    if (status === 422 && /unknown item/.test(message)) return what + '未成功：这项内容已下线，列表已更新。';
    if (status === 422) return what + '未成功：请刷新页面后再试。';
    return what + '未成功，请稍后再试。';
  }

  /* Seconds a request may take before the page gives up on it (a stalled mobile connection). */
  var TIMEOUT_MS = 15000;

  /* An id for an event the member records: a retry after a lost answer sends the same one. */
  function eventId() {
    var rand = window.crypto && window.crypto.getRandomValues
      ? Array.prototype.map.call(window.crypto.getRandomValues(new Uint32Array(2)), function (n) { return n.toString(36); }).join('')
      : Math.random().toString(36).slice(2);
    return 'w' + Date.now().toString(36) + rand;
  }

  var ACTIONS = [
    { kind: 'start', label: '开始学习', done: '已开始学习', primary: true },
    { kind: 'complete', label: '已学完', done: '已记录学完' },
    { kind: 'skip', label: '跳过', done: '已跳过，近期不再推荐' },
    { kind: 'dislike', label: '不感兴趣', done: '已记录，今后少推荐此类内容' }
  ];

  /* A quiz with questions is answered on the page (开始答题), and the server scores it: its
     answering completes it, so it has no 已学完. */
  var QUIZ_ACTIONS = [
    { kind: 'start', label: '开始答题', done: '请在下方作答', primary: true, quiz: true },
    ACTIONS[2],
    ACTIONS[3]
  ];

  /* An offline activity of the day is attended as the organiser records it: the member's own
     token may not mark it done (the server refuses), so it has no 已学完. */
  var ACTIVITY_ACTIONS = [ACTIONS[2], ACTIONS[3]];

  function quizOutcome(entry, result) {
    var text = '《' + entry.item.title + '》答对 ' + result.right + ' / ' + result.total + ' 题';
    var wrong = [];
    (result.correct || []).forEach(function (ok, n) {
      if (!ok) wrong.push('第 ' + (n + 1) + ' 题：' + result.answers[n]);
    });
    return text + (wrong.length ? '。正确答案 ' + wrong.join('；') : '，全部正确');
  }

  class RecsysDaily extends HTMLElement {
    static get observedAttributes() { return ['token', 'base', 'view']; }

    constructor() {
      super();
      this.attachShadow({ mode: 'open' });
      this.data = null;
      this.message = null;
      this.busy = false;
      this.reading = {};  // items opened with 开始学习 that have no link: their text shows on the page
      this.answering = {};  // quizzes opened with 开始答题: their questions show on the page
      this.drafts = {};  // answers chosen so far, per quiz
    }

    get token() { return this.getAttribute('token') || ''; }
    get base() { return (this.getAttribute('base') || SCRIPT_BASE).replace(/\/+$/, ''); }
    get view() { return this.getAttribute('view') === 'full' ? 'full' : 'list'; }
    get offline() { return this.hasAttribute('offline'); }
    get member() { return tokenMember(this.token); }

    connectedCallback() {
      var large = false;
      try { large = window.localStorage.getItem(LARGE_KEY) === '1'; } catch (e) { /* storage may be off */ }
      this.classList.toggle('large', large);
      this.started = true;
      this.load();
    }

    attributeChangedCallback(name, before, after) {
      if (this.started && this.isConnected && before !== after) { this.message = null; this.load(); }
    }

    api(method, path, body) {
      var init = { method: method, headers: { Authorization: 'Bearer ' + this.token } };
      if (body !== undefined) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      // A phone on a weak network may never get an answer: give up after a while and say so,
      // rather than leave the page waiting for good.
      var controller = window.AbortController ? new AbortController() : null;
      var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
      if (controller) init.signal = controller.signal;
      function done() { if (timer) clearTimeout(timer); }
      // No Promise.finally: older in-app browsers lack it.
      return fetch(this.base + '/v1/members/' + encodeURIComponent(this.member) + path, init)
        .then(function (r) {
          done();
          return r.json().catch(function () { return null; }).then(function (b) { return { status: r.status, body: b }; });
        }, function (error) { done(); throw error; });
    }

    load() {
      var self = this;
      if (this.offline) {
        var source = document.getElementById('recsys-data');
        this.data = source ? JSON.parse(source.textContent) : null;
        this.render();
        return Promise.resolve();
      }
      if (!this.token || !this.member) {
        this.message = { error: true, text: '链接中缺少有效的登录凭据，请回到推送链接的群或党建平台重新打开。' };
        this.render();
        return Promise.resolve();
      }
      this.loading = true;
      if (!this.data) this.render();  // 正在加载 until the first answer
      return this.api('GET', '/page').then(function (r) {
        self.loading = false;
        if (r.status === 200) {
          self.data = r.body;
          if (self.message && self.message.retry) self.message = null;  // what failed is mended
        } else {
          self.data = null;
          self.message = { error: true, text: refusal(r.status, r.body, '加载') };
        }
        self.render();
      }, function () {
        self.loading = false;
        self.message = { error: true, text: '网络连接失败，请检查网络后重试。', retry: self.load.bind(self) };
        self.render();
      });
    }

    /* Run ``send`` (a function returning the request's promise): a failed network offers 重试,
       which sends the same request again (an event keeps its id, so it is recorded once). */
    act(send, what, done) {
      var self = this;
      if (this.busy) return;
      this.busy = true;
      this.message = { error: false, text: '正在提交…' };
      this.render();
      send().then(function (r) {
        self.busy = false;
        if (r.status >= 200 && r.status < 300) {
          self.message = { error: false, text: typeof done === 'function' ? done(r.body) : done };
          return self.load();
        }
        self.message = { error: true, text: refusal(r.status, r.body, what) };
        // Refused for what changed meanwhile (seats taken, an activity over, content taken down):
        // show the list as it is now; trying the same again would only fail again.
        return r.status === 409 || r.status === 404 || r.status === 422 ? self.load() : self.render();
      }, function () {
        self.busy = false;
        self.message = { error: true, text: what + '未提交成功：网络连接失败。', retry: function () { self.act(send, what, done); } };
        self.render();
      });
    }

    record(entry, action) {
      var self = this;
      if (action.quiz) {
        this.answering[entry.item.id] = true;  // the questions show on the page, answered here
      } else if (action.kind === 'start' && entry.item.url) {
        window.open(entry.item.url, '_blank', 'noopener'); // in the click itself, or it is blocked
      } else if (action.kind === 'start' && entry.item.body) {
        this.reading[entry.item.id] = true;  // no portal page to open: the text is read here
      }
      var event = { id: eventId(), item: entry.item.id, kind: action.kind };
      this.act(function () { return self.api('POST', '/events', [event]); }, action.label,
        action.done + '：《' + entry.item.title + '》');
    }

    /* The member's answers, read from the quiz's form: an option's key (several for a
       multiple-choice question, in order) or the text of a blank. */
    answerQuiz(entry, form) {
      var self = this;
      var answers = {};
      entry.item.questions.forEach(function (q, n) {
        var name = 'q' + n;
        if (q.type === 'blank') {
          var input = form.querySelector('input[name="' + name + '"]');
          answers[q.id] = input ? input.value : '';
        } else {
          answers[q.id] = Array.prototype.filter.call(form.querySelectorAll('input[name="' + name + '"]'),
            function (box) { return box.checked; }).map(function (box) { return box.value; }).join('');
        }
      });
      // Sent, a quiz is scored and done: a tap on 提交答案 with questions left blank would end it.
      var blank = [];
      entry.item.questions.forEach(function (q, n) { if (!answers[q.id].trim()) blank.push(n + 1); });
      if (blank.length) {
        this.message = { error: true, text: '还有第 ' + blank.join('、') + ' 题未作答，请答完再提交。' };
        this.render();
        return;
      }
      var body = { id: eventId(), answers: answers };
      this.act(function () { return self.api('POST', '/quizzes/' + encodeURIComponent(entry.item.id), body); }, '提交答案',
        function (result) { delete self.answering[entry.item.id]; return quizOutcome(entry, result); });
    }

    quizForm(entry) {
      var self = this;
      var form = h('form', { class: 'quiz', 'aria-label': entry.item.title, onsubmit: function (e) {
        e.preventDefault();
        self.answerQuiz(entry, form);
      } },
      entry.item.questions.map(function (q, n) {
        var name = 'q' + n;
        var kind = q.type === 'multiple' ? '（多选）' : q.type === 'judge' ? '（判断）' : q.type === 'blank' ? '（填空）' : '（单选）';
        return h('fieldset', { class: 'question' },
          h('legend', null, (n + 1) + '. ' + q.question + kind),
          q.type === 'blank'
            ? h('input', { type: 'text', name: name, 'aria-label': '第 ' + (n + 1) + ' 题答案', autocomplete: 'off' })
            : q.options.map(function (o) {
              return h('label', { class: 'option' },
                h('input', { type: q.type === 'multiple' ? 'checkbox' : 'radio', name: name, value: o.key }),
                ' ' + o.key + '. ' + o.text);
            }));
      }),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary', 'data-kind': 'answer', disabled: self.busy || self.offline }, '提交答案')));
      // Answers typed so far survive a re-render (a message, the 大字 switch).
      var kept = this.drafts[entry.item.id];
      if (kept) {
        Array.prototype.forEach.call(form.querySelectorAll('input'), function (input, n) {
          if (input.type === 'text') input.value = kept[n] || ''; else input.checked = !!kept[n];
        });
      }
      form.addEventListener('input', function () {
        self.drafts[entry.item.id] = Array.prototype.map.call(form.querySelectorAll('input'), function (input) {
          return input.type === 'text' ? input.value : input.checked;
        });
      });
      return form;
    }

    enrol(entry, on) {
      var self = this;
      var path = '/enrolments/' + encodeURIComponent(entry.item.id);
      this.act(function () { return self.api(on ? 'PUT' : 'DELETE', path); }, on ? '报名' : '取消报名',
        (on ? '报名成功：' : '已取消报名：') + '《' + entry.item.title + '》');
    }

    toggleLarge() {
      var large = !this.classList.contains('large');
      this.classList.toggle('large', large);
      try { window.localStorage.setItem(LARGE_KEY, large ? '1' : '0'); } catch (e) { /* storage may be off */ }
      this.render();
    }

    styles() {
      var inline = document.getElementById('recsys-css');
      if (inline) return h('style', null, inline.textContent);
      return h('link', { rel: 'stylesheet', href: this.base + '/static/recsys-member.css' });
    }

    render() {
      var root = this.shadowRoot;
      while (root.firstChild) root.removeChild(root.firstChild);
      root.appendChild(this.styles());
      var d = this.data;
      var large = this.classList.contains('large');
      var wrap = h('div', { class: 'recsys', 'aria-busy': this.busy ? 'true' : 'false' });
      root.appendChild(wrap);
      var head = h('header', { class: 'head' },
        h('div', { class: 'who' },
          h('h1', { class: 'title' }, d ? d.member.name + '同志，您好' : '每日学习'),
          d ? h('p', { class: 'sub' }, today(d.day) + (d.studied
            ? ' · 今日已学 ' + d.studied + ' 分钟（每日 ' + d.budget + ' 分钟）'
            : ' · 今日安排 ' + d.minutes + ' 分钟（每日 ' + d.budget + ' 分钟）')) : null),
        h('button', { class: 'large-switch', type: 'button', 'aria-pressed': large ? 'true' : 'false',
          onclick: this.toggleLarge.bind(this) }, large ? '标准字' : '大字'));
      wrap.appendChild(head);
      if (this.message) {
        var retry = this.message.retry;
        wrap.appendChild(h('p', { class: 'msg' + (this.message.error ? ' error' : ''), role: 'status' }, this.message.text,
          retry ? h('button', { class: 'retry', type: 'button', onclick: function () { retry(); } }, '重试') : null));
      } else if (!d && this.loading) {
        wrap.appendChild(h('p', { class: 'msg', role: 'status' }, '正在加载今日学习…'));
      }
      if (this.offline) wrap.appendChild(h('p', { class: 'msg' }, '离线预览：按钮不可用。'));
      if (!d) return;
      wrap.appendChild(this.listSection(d));
      if (this.view === 'full') {
        wrap.appendChild(this.activitiesSection(d));
        wrap.appendChild(this.hoursSection(d));
        wrap.appendChild(this.reviewSection(d));
      } else if (!this.offline) {
        wrap.appendChild(h('p', { class: 'more' }, h('a', {
          href: this.base + '/m?token=' + encodeURIComponent(this.token), target: '_blank', rel: 'noopener noreferrer'
        }, '查看活动、学时和积分')));
      }
    }

    listSection(d) {
      var self = this;
      var section = h('section', { class: 'today', 'aria-labelledby': 'today-h' }, h('h2', { id: 'today-h' }, '今日学习'));
      // Once the day's minutes are studied the list still offers more, as a choice, not a task.
      var done = d.studied && d.studied >= d.budget;
      if (!d.entries.length) {
        section.appendChild(h('p', { class: 'empty' }, done || !d.notes.length ? '今天的学习已经完成，明天再来。' : d.notes.join('；')));
        return section;
      }
      if (done) section.appendChild(h('p', { class: 'msg done' }, '今天的学习已经完成，以下内容可以选学。'));
      var list = h('ol', { class: 'entries' });
      d.entries.forEach(function (entry) {
        var quiz = !!(entry.item.questions && entry.item.questions.length);
        list.appendChild(h('li', { class: 'entry', 'data-item': entry.item.id },
          h('h3', { class: 'item-title' }, entry.item.title),
          h('p', { class: 'meta' },
            h('span', { class: 'kind' }, entry.item.kind_name), ' · ',
            h('span', { class: 'minutes' }, entry.item.minutes + ' 分钟'),
            entry.review ? h('span', { class: 'badge' }, '复习') : null),
          h('ul', { class: 'reasons' }, entry.reasons.map(function (r) { return h('li', null, r); })),
          quiz && self.answering[entry.item.id] ? self.quizForm(entry) : null,
          !quiz && self.reading[entry.item.id] && entry.item.body
            ? h('div', { class: 'body', role: 'article', 'aria-label': entry.item.title },
              entry.item.body.split(/\n+/).map(function (p) { return h('p', null, p); }))
            : null,
          h('div', { class: 'actions' }, (quiz ? QUIZ_ACTIONS : entry.item.mode === 'offline' ? ACTIVITY_ACTIONS : ACTIONS).filter(function (action) {
            return !(action.quiz && self.answering[entry.item.id]);  // opened: the form's button answers
          }).map(function (action) {
            return h('button', { type: 'button', class: action.primary ? 'primary' : '', 'data-kind': action.kind,
              disabled: self.busy || self.offline, onclick: function () { self.record(entry, action); } }, action.label);
          }))));
      });
      section.appendChild(list);
      return section;
    }

    activitiesSection(d) {
      var self = this;
      var section = h('section', { class: 'activities', 'aria-labelledby': 'act-h' }, h('h2', { id: 'act-h' }, '近期活动'));
      if (!d.upcoming.length) {
        section.appendChild(h('p', { class: 'empty' }, '近期没有可报名的线下活动。'));
        return section;
      }
      var list = h('ul', { class: 'entries' });
      d.upcoming.forEach(function (entry) {
        var s = entry.item.schedule || {};
        var full = !entry.enrolled && entry.seats_left === 0;
        var seats = entry.seats_left === null ? '名额不限' : full ? '名额已满' : '剩余 ' + entry.seats_left + ' 个名额';
        list.appendChild(h('li', { class: 'entry activity', 'data-item': entry.item.id },
          h('h3', { class: 'item-title' }, entry.item.title,
            // The page's day and the activity's, both in Beijing time (the schedule carries +08:00).
            s.starts && s.starts.slice(0, 10) === d.day ? h('span', { class: 'badge' }, '今天') : null),
          h('p', { class: 'meta' }, s.starts ? cnDate(s.starts) : '', ' · ', s.location || ''),
          h('p', { class: 'seats' }, entry.enrolled ? h('span', { class: 'badge ok' }, '已报名') : null, seats),
          h('div', { class: 'actions' }, entry.enrolled
            ? h('button', { type: 'button', 'data-kind': 'withdraw', disabled: self.busy || self.offline,
              onclick: function () { self.enrol(entry, false); } }, '取消报名')
            : h('button', { type: 'button', class: 'primary', 'data-kind': 'enroll', disabled: self.busy || self.offline || full,
              onclick: function () { self.enrol(entry, true); } }, '报名'))));
      });
      section.appendChild(list);
      return section;
    }

    hoursSection(d) {
      var hrs = d.hours;
      var share = hrs.target ? Math.min(hrs.hours / hrs.target, 1) : 0;
      var due = hrs.target && hrs.expected !== null ? Math.min(hrs.expected / hrs.target, 1) : null;
      return h('section', { class: 'hours', 'aria-labelledby': 'hours-h' },
        h('h2', { id: 'hours-h' }, hrs.year + ' 年学时与积分'),
        hrs.target
          ? h('p', { class: 'figure' }, h('strong', null, String(hrs.hours)), ' / ' + hrs.target + ' 学时 · ',
            h('span', { class: 'status ' + hrs.status }, hrs.status_name))
          : h('p', { class: 'figure' }, h('strong', null, String(hrs.hours)), ' 学时（' + hrs.status_name + '）'),
        hrs.target ? h('div', { class: 'bar', role: 'img', 'aria-label': '已完成 ' + Math.round(share * 100) + '%' },
          h('div', { class: 'done', style: { width: (share * 100).toFixed(1) + '%' } }),
          due !== null ? h('div', { class: 'due', style: { left: (due * 100).toFixed(1) + '%' } }) : null) : null,
        hrs.target && hrs.expected !== null ? h('p', { class: 'pace' }, '按进度到今天应完成 ' + hrs.expected + ' 学时'
          + (hrs.pace < 0 ? '，还差 ' + (-hrs.pace).toFixed(1) + ' 学时' : '，已超前 ' + hrs.pace.toFixed(1) + ' 学时')) : null,
        h('p', { class: 'points' }, '本年积分 ', h('strong', null, String(d.points))));
    }

    reviewSection(d) {
      var section = h('section', { class: 'reviews', 'aria-labelledby': 'rev-h' }, h('h2', { id: 'rev-h' }, '待复习'));
      if (!d.reviews.length) {
        section.appendChild(h('p', { class: 'empty' }, '没有需要复习的答题。'));
        return section;
      }
      section.appendChild(h('ul', { class: 'plain' }, d.reviews.map(function (r) {
        return h('li', null, '《' + r.title + '》', h('span', { class: 'meta' }, r.due_now ? ' 今天可复习' : ' ' + r.due + ' 起复习'));
      })));
      return section;
    }
  }

  if (!customElements.get('recsys-daily')) customElements.define('recsys-daily', RecsysDaily);
})();
