// The audience builder: edits a segment rule as a tree of groups ({all|any|none: [...]}) and conditions,
// asks the server for the live size after each change (debounced), saves the segment and declares a sync.
// Every rule is checked and rendered on the server; this script only edits the tree and shows answers.
(function () {
  "use strict";
  var root = document.getElementById("audience-builder");
  if (!root) { return; }
  var api = "/api/v1/audiences";
  var csrf = root.dataset.csrf;
  var catalog = { fields: [], channels: [], segments: [] };
  var rule = { all: [] };
  var timer = null;
  var sequence = 0;
  var GROUPS = [["all", "all of"], ["any", "any of"], ["none", "none of (exclude)"]];
  var TYPES = [["field", "field"], ["event", "did event"], ["bought_category", "bought category"],
    ["segment", "in segment"], ["consent", "consented on"]];
  var NO_VALUE = ["is empty", "is not empty", "is null", "is not null", "is true", "is false"];

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      var value = attributes[key];
      if (key.indexOf("on") === 0) { node.addEventListener(key.slice(2), value); }
      else if (key === "text") { node.textContent = value; }
      else { node.setAttribute(key, value); }
    });
    (children || []).forEach(function (child) { if (child) { node.append(child); } });
    return node;
  }

  function choice(options, selected, attributes) {
    var select = el("select", attributes);
    options.forEach(function (option) {
      var item = el("option", { value: option[0], text: option[1] });
      if (option[0] === selected) { item.selected = true; }
      select.append(item);
    });
    return select;
  }

  function button(label, className, action) {
    return el("button", { type: "button", "class": className, text: label, onclick: action });
  }

  function groupKind(node) {
    return ["all", "any", "none"].filter(function (kind) { return kind in node; })[0];
  }

  function conditionType(node) {
    return ["event", "bought_category", "segment", "consent"].filter(function (kind) { return kind in node; })[0] || "field";
  }

  function fieldOf(name) {
    return catalog.fields.filter(function (field) { return field.name === name; })[0];
  }

  function newCondition(type) {
    if (type === "event") { return { event: "", at_least: 1, in_last_days: 30 }; }
    if (type === "bought_category") { return { bought_category: "", in_last_days: 365 }; }
    if (type === "segment") { return { segment: catalog.segments[0] || "" }; }
    if (type === "consent") { return { consent: catalog.channels[0] || "email" }; }
    var field = catalog.fields[0];
    return { field: field.name, op: field.operators[0], value: "" };
  }

  function typed(kind, text) {
    var trimmed = String(text).trim();
    if (kind === "number" && trimmed !== "" && !isNaN(Number(trimmed))) { return Number(trimmed); }
    if (kind === "boolean") { return trimmed === "true"; }
    return trimmed;
  }

  function changed(structure) {
    if (structure) { draw(); }
    clearTimeout(timer);
    timer = setTimeout(refreshPreview, 300);
  }

  function valueInputs(node, field) {
    var op = node.op;
    if (NO_VALUE.indexOf(op) >= 0) { delete node.value; return []; }
    if (op === "between") {
      var pair = Array.isArray(node.value) ? node.value : ["", ""];
      node.value = pair;
      return [0, 1].map(function (index) {
        return el("input", { "class": "ab-value ab-value-" + index, value: pair[index], oninput: function (event) {
          node.value[index] = typed(field.kind, event.target.value); changed(false);
        } });
      });
    }
    if (op === "in" || op === "not in") {
      var list = Array.isArray(node.value) ? node.value : [];
      node.value = list;
      return [el("input", { "class": "ab-value", placeholder: "a, b, c", value: list.join(", "), oninput: function (event) {
        node.value = event.target.value.split(",").filter(function (part) { return part.trim() !== ""; })
          .map(function (part) { return typed(field.kind, part); });
        changed(false);
      } })];
    }
    if (field.kind === "boolean") {
      node.value = node.value === false ? false : true;
      return [choice([["true", "true"], ["false", "false"]], String(node.value), { "class": "ab-value", onchange: function (event) {
        node.value = event.target.value === "true"; changed(false);
      } })];
    }
    var kind = op.indexOf("last days") >= 0 ? "number" : field.kind;
    return [el("input", { "class": "ab-value", type: kind === "number" ? "number" : "text",
      placeholder: field.kind === "date" && kind !== "number" ? "YYYY-MM-DD" : "", value: node.value === undefined ? "" : node.value,
      oninput: function (event) { node.value = typed(kind, event.target.value); changed(false); } })];
  }

  // The "N days" window of an event or category condition.
  function appendDays(row, node) {
    row.append(el("input", { "class": "ab-days", type: "number", min: "1", value: node.in_last_days, oninput: function (event) {
      node.in_last_days = typed("number", event.target.value); changed(false);
    } }));
    row.append(el("span", { text: "days" }));
  }

  function drawCondition(node, remove) {
    var type = conditionType(node);
    var row = el("div", { "class": "ab-condition" });
    row.append(choice(TYPES, type, { "class": "ab-type", onchange: function (event) {
      Object.keys(node).forEach(function (key) { delete node[key]; });
      Object.assign(node, newCondition(event.target.value));
      changed(true);
    } }));
    if (type === "field") {
      var field = fieldOf(node.field) || catalog.fields[0];
      row.append(choice(catalog.fields.map(function (f) { return [f.name, f.name + " (" + f.kind + ")"]; }), field.name, {
        "class": "ab-field", onchange: function (event) {
          var picked = fieldOf(event.target.value);
          node.field = picked.name; node.op = picked.operators[0]; node.value = ""; changed(true);
        } }));
      row.append(choice(field.operators.map(function (op) { return [op, op]; }), node.op, { "class": "ab-op", onchange: function (event) {
        node.op = event.target.value; delete node.value; changed(true);
      } }));
      valueInputs(node, field).forEach(function (input) { row.append(input); });
    } else if (type === "event") {
      row.append(el("input", { "class": "ab-event", placeholder: "event name", value: node.event, oninput: function (event) {
        node.event = event.target.value; changed(false);
      } }));
      row.append(el("span", { text: "at least" }));
      row.append(el("input", { "class": "ab-at-least", type: "number", min: "1", value: node.at_least, oninput: function (event) {
        node.at_least = typed("number", event.target.value); changed(false);
      } }));
      row.append(el("span", { text: "times in the last" }));
      appendDays(row, node);
    } else if (type === "bought_category") {
      row.append(el("input", { "class": "ab-category", placeholder: "category", value: node.bought_category, oninput: function (event) {
        node.bought_category = event.target.value; changed(false);
      } }));
      row.append(el("span", { text: "in the last" }));
      appendDays(row, node);
    } else {
      var options = type === "segment" ? catalog.segments : catalog.channels;
      row.append(choice(options.map(function (name) { return [name, name]; }), node[type], { "class": "ab-" + type, onchange: function (event) {
        node[type] = event.target.value; changed(false);
      } }));
    }
    row.append(button("remove", "ab-remove", remove));
    return row;
  }

  function drawGroup(node, remove) {
    var kind = groupKind(node);
    var box = el("div", { "class": "ab-group" });
    var head = el("div", { "class": "ab-group-head" }, [
      choice(GROUPS, kind, { "class": "ab-group-kind", onchange: function (event) {
        var children = node[kind]; delete node[kind]; node[event.target.value] = children; changed(true);
      } }),
      button("+ condition", "ab-add-condition", function () { node[kind].push(newCondition("field")); changed(true); }),
      button("+ group", "ab-add-group", function () { node[kind].push({ any: [] }); changed(true); }),
      remove ? button("remove group", "ab-remove", remove) : null
    ]);
    box.append(head);
    node[kind].forEach(function (child, index) {
      var drop = function () { node[kind].splice(index, 1); changed(true); };
      box.append(groupKind(child) ? drawGroup(child, drop) : drawCondition(child, drop));
    });
    return box;
  }

  function draw() {
    var holder = document.getElementById("ab-rule");
    holder.replaceChildren(drawGroup(rule, null));
  }

  function definition() {
    var description = document.getElementById("ab-description");
    var found = { rule: rule };
    if (description && description.value.trim()) { found.description = description.value.trim(); }
    return found;
  }

  function send(path, body, write) {
    var headers = { "Content-Type": "application/json" };
    if (write) { headers["X-CSRF-Token"] = csrf; }
    return fetch(api + path, { method: "POST", headers: headers, body: JSON.stringify(body), credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (answer) { return { ok: response.ok, answer: answer }; });
      });
  }

  function text(id, value) { document.getElementById(id).textContent = value; }

  function refreshPreview() {
    var mine = ++sequence;
    text("preview-status", "updating...");
    send("/preview", { definition: definition() }, false).then(function (result) {
      if (mine !== sequence) { return; }
      text("preview-status", result.ok ? "(" + result.answer.seconds + " s)" : "");
      text("preview-error", result.ok ? "" : result.answer.error);
      if (!result.ok) { text("preview-customers", "-"); return; }
      var counts = result.answer.counts;
      text("preview-customers", counts.customers);
      text("preview-suppressed", counts.suppressed);
      var consent = document.getElementById("preview-consent");
      consent.replaceChildren();
      catalog.channels.forEach(function (channel) {
        consent.append(el("div", { text: "Consented on " + channel + ": " }, [
          el("span", { id: "preview-consented-" + channel, text: counts[channel + "_consented"] })
        ]));
      });
    });
  }

  function save() {
    var name = document.getElementById("ab-name").value.trim();
    var overwrite = document.getElementById("ab-overwrite").checked;
    send("/segments", { name: name, definition: definition(), overwrite: overwrite }, true).then(function (result) {
      text("ab-save-error", result.ok ? "" : result.answer.error);
      var yaml = document.getElementById("ab-yaml");
      yaml.hidden = !result.ok;
      if (!result.ok) { return; }
      text("ab-saved-path", "Saved to " + result.answer.yaml_path + " and " + result.answer.sql_path);
      yaml.textContent = result.answer.yaml;
      document.getElementById("ab-build-form").hidden = false;
      document.getElementById("ab-attach-form").hidden = false;
      document.getElementById("ab-sync-name").value = name + "_to_" + document.getElementById("ab-destination").value;
    });
  }

  function attach() {
    var body = {
      segment: document.getElementById("ab-name").value.trim(),
      sync: document.getElementById("ab-sync-name").value.trim(),
      destination: document.getElementById("ab-destination").value
    };
    send("/syncs", body, true).then(function (result) {
      text("ab-attach-error", result.ok ? "" : result.answer.error);
      var yaml = document.getElementById("ab-sync-yaml");
      yaml.hidden = !result.ok;
      var link = document.getElementById("ab-sync-link");
      link.hidden = !result.ok;
      if (result.ok) {
        yaml.textContent = result.answer.yaml;
        link.href = "/syncs/" + encodeURIComponent(body.sync);
      }
    });
  }

  function showBuild(build) {
    var status = document.getElementById("ab-build-status");
    status.dataset.state = build ? build.state : "";
    if (!build) { text("ab-build-status", ""); return; }
    var took = build.seconds === null ? "" : " (" + build.seconds + " s)";
    var said = { running: "building seg_" + build.segment + "...", passed: "built seg_" + build.segment };
    text("ab-build-status", (said[build.state] || "build of seg_" + build.segment + " failed") + took);
    text("ab-build-error", build.state === "failed" ? build.message : "");
    document.getElementById("ab-build").disabled = build.state === "running";
    if (build.state === "running") { window.setTimeout(pollBuild, 1000); }
  }

  function pollBuild() {
    fetch(api + "/builds", { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) { showBuild(answer.build); });
  }

  function build() {
    text("ab-build-error", "");
    send("/builds", { segment: document.getElementById("ab-name").value.trim() }, true).then(function (result) {
      if (!result.ok) { text("ab-build-error", result.answer.error); return; }
      showBuild(result.answer.build);
    });
  }

  fetch(api + "/fields", { credentials: "same-origin" }).then(function (response) { return response.json(); })
    .then(function (answer) {
      catalog = answer;
      rule = { all: [newCondition("field")] };
      draw();
      changed(false);
      if (root.dataset.operator === "yes") {
        document.getElementById("ab-save").addEventListener("click", save);
        document.getElementById("ab-attach").addEventListener("click", attach);
        document.getElementById("ab-build").addEventListener("click", build);
      }
      root.dataset.ready = "yes";
    });
}());
