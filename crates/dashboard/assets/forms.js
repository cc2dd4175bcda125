// Adding (#/zones/new), editing (#/zone/{id}/edit) and deleting a zone. Fields are checked here first; what the
// server refuses is shown in its words, next to the field it names. Admins only: another role is told so instead.
import { api } from "./api.js";
import { can, needsRole } from "./auth.js";
import { f1, h, setText } from "./dom.js";
import { groupOptions } from "./groups.js";
import { app, refreshNow } from "./live.js";

const PREFS = [
  ["occupied_temp", "Occupied", "Target while people are in"],
  ["unoccupied_temp", "Unoccupied", "Setback while vacant"],
  ["min_temp", "Minimum", "No target below this"],
  ["max_temp", "Maximum", "No target above this"],
];

/// A labelled input with its hint and error line, recorded in `fields[key]` as { el, err }.
function field(fields, key, label, attrs, hint) {
  const inputId = `f-${key}`;
  const hintId = hint ? `${inputId}-hint` : null;
  const errId = `${inputId}-error`;
  const el = h("input", Object.assign({ id: inputId, name: key, "aria-describedby": [hintId, errId].filter(Boolean).join(" ") }, attrs));
  const err = h("span", { class: "field-error", id: errId });
  fields[key] = { el, err };
  return h("div", { class: "field" }, h("label", { for: inputId }, label), el, hint ? h("span", { class: "hint", id: hintId }, hint) : null, err);
}

function fieldError(fields, key, message) {
  const f = fields[key];
  f.err.textContent = message;
  f.el.setAttribute("aria-invalid", "true");
}

/// The body to send, or null after marking the fields in error.
function collect(fields) {
  let ok = true;
  const v = (key) => fields[key].el.value.trim();
  const body = { name: v("name"), modbus_host: v("modbus_host") || "localhost" };
  if (!body.name) { fieldError(fields, "name", "Enter a name."); ok = false; }
  const port = v("modbus_port");
  if (port === "") body.modbus_port = null;
  else if (!/^\d+$/.test(port) || +port < 1 || +port > 65535) { fieldError(fields, "modbus_port", "A port is a whole number from 1 to 65535."); ok = false; }
  else body.modbus_port = +port;
  const unit = v("modbus_unit_id");
  if (!/^\d+$/.test(unit) || +unit > 255) { fieldError(fields, "modbus_unit_id", "A unit id is a whole number from 0 to 255."); ok = false; }
  else body.modbus_unit_id = +unit;
  // Until GET groups has answered the select is empty: the zone's group is then left as it is.
  if (fields.group_id.el.options.length) body.group_id = v("group_id") === "" ? null : Number(v("group_id"));
  body.preferences = {};
  for (const [key] of PREFS) {
    const raw = v(key).replace(",", ".");
    if (raw === "") continue;
    const n = Number(raw);
    if (!isFinite(n)) { fieldError(fields, key, "Enter a temperature in °C."); ok = false; }
    else body.preferences[key] = n;
  }
  return ok ? body : null;
}

/// The form's fields, filled from GET zones/{id}.
function fillFields(fields, z) {
  fields.name.el.value = z.name;
  fields.modbus_host.el.value = z.modbus_host;
  fields.modbus_port.el.value = z.modbus_port === null ? "" : String(z.modbus_port);
  fields.modbus_unit_id.el.value = String(z.modbus_unit_id);
  fields.group_id.el.value = z.group_id === null || z.group_id === undefined ? "" : String(z.group_id);
  for (const [key] of PREFS) fields[key].el.value = z.preferences[key] === undefined ? "" : f1(z.preferences[key]);
}

/// The zone's group: a select of every group by path (GET groups), "No group" first.
function groupField(fields) {
  const el = h("select", { id: "f-group_id", name: "group_id", "aria-describedby": "f-group_id-hint f-group_id-error" });
  const err = h("span", { class: "field-error", id: "f-group_id-error" });
  fields.group_id = { el, err };
  return h("div", { class: "field" }, h("label", { for: "f-group_id" }, "Group"), el,
    h("span", { class: "hint", id: "f-group_id-hint" }, h("a", { href: "#/groups" }, "Manage groups")), err);
}

/// The "Delete zone" panel: a button, then a confirmation; deleting returns to the overview.
function deleteSection(id) {
  const deleteError = h("p", { class: "msg error", id: "delete-error", role: "alert" });
  const confirmBox = h("div", { id: "delete-confirm", hidden: true },
    h("p", {}, "Delete this zone together with all its readings and commands? This cannot be undone."),
    h("div", { class: "actions" },
      h("button", { class: "btn danger solid", type: "button", id: "delete-yes", onclick: remove }, "Delete zone and history"),
      h("button", { class: "btn", type: "button", onclick: () => { confirmBox.hidden = true; startButton.hidden = false; startButton.focus(); } }, "Keep it")));
  const startButton = h("button", { class: "btn danger", type: "button", id: "delete-start",
    onclick: () => { confirmBox.hidden = false; startButton.hidden = true; document.getElementById("delete-yes").focus(); } }, "Delete zone…");

  async function remove() {
    deleteError.textContent = "";
    try {
      await api("DELETE", `zones/${id}?cascade=true`);
      app.flash = "Zone deleted.";
      location.hash = "#/";
    } catch (e) {
      deleteError.textContent = e.message;
    }
  }

  return h("section", { class: "panel danger-zone form-narrow mt-16", "aria-labelledby": "delete-heading" },
    h("h2", { id: "delete-heading" }, "Delete zone"),
    h("p", { class: "muted" }, "Polling and control stop for this zone, and its history is deleted."),
    startButton, confirmBox, deleteError);
}

/// The zone form: a new zone when `id` is null, else zone `id`'s settings and its deletion.
export function zoneFormView(main, id) {
  const editing = id !== null;
  if (!can("admin")) {
    main.append(
      h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Overview"), editing ? [" › ", h("a", { href: `#/zone/${id}` }, `Zone ${id}`)] : null),
      h("div", { class: "page-head" }, h("h1", {}, editing ? "Edit zone" : "Add a zone")),
      needsRole("admin", editing ? "Editing or deleting a zone" : "Adding a zone"));
    return {};
  }
  const fields = {};
  const input = (key, label, attrs, hint) => field(fields, key, label, attrs, hint);
  const formError = h("p", { class: "msg error", id: "form-error", role: "alert" });
  const saveButton = h("button", { class: "btn primary", type: "submit" }, editing ? "Save changes" : "Add zone");
  const form = h("form", { class: "panel form-narrow", id: "zone-form", novalidate: true, onsubmit: save },
    h("fieldset", {}, h("legend", {}, "Zone"),
      input("name", "Name", { type: "text", required: true, maxlength: "100", autocomplete: "off" }, "Unique, 1 to 100 characters"),
      groupField(fields)),
    h("fieldset", {}, h("legend", {}, "Modbus device"),
      h("div", { class: "field-row" },
        input("modbus_host", "Host", { type: "text", value: "localhost", autocomplete: "off" }),
        input("modbus_port", "Port", { type: "number", min: "1", max: "65535", inputmode: "numeric" }, "Empty: no device"),
        input("modbus_unit_id", "Unit id", { type: "number", min: "0", max: "255", value: "1", inputmode: "numeric" }))),
    h("fieldset", {}, h("legend", {}, "Comfort preferences (°C)"),
      h("div", { class: "field-row" },
        PREFS.map(([key, label, hint]) => input(key, label, { type: "number", step: "0.5", min: "5", max: "35", inputmode: "decimal" }, hint)))),
    h("div", { class: "actions" }, saveButton, h("a", { class: "btn", href: editing ? `#/zone/${id}` : "#/" }, "Cancel")),
    formError);

  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Overview"), " › ",
      editing ? h("a", { href: `#/zone/${id}`, "data-field": "name" }, `Zone ${id}`) : "Add zone"),
    h("div", { class: "page-head" }, h("h1", {}, editing ? "Edit zone" : "Add a zone")),
    form);

  const groupsLoaded = api("GET", "groups").then((groups) => {
    fields.group_id.el.append(...groupOptions(groups, "No group"));
  });
  if (editing) {
    main.append(deleteSection(id));
    Promise.all([api("GET", `zones/${id}`), groupsLoaded]).then(([z]) => {
      setText(main, "name", z.name);
      fillFields(fields, z);
    }).catch((e) => { formError.textContent = e.message; });
  } else {
    groupsLoaded.catch((e) => { formError.textContent = e.message; });
    fields.occupied_temp.el.value = "21.0";
    fields.unoccupied_temp.el.value = "17.0";
    fields.min_temp.el.value = "10.0";
    fields.max_temp.el.value = "28.0";
  }
  fields.name.el.focus();

  function clearErrors() {
    formError.textContent = "";
    for (const f of Object.values(fields)) { f.err.textContent = ""; f.el.removeAttribute("aria-invalid"); }
  }

  async function save(e) {
    e.preventDefault();
    clearErrors();
    const body = collect(fields);
    if (!body) {
      formError.textContent = "Please correct the marked fields.";
      const first = Object.values(fields).find((f) => f.el.getAttribute("aria-invalid") === "true");
      if (first) first.el.focus();
      return;
    }
    if (!editing && body.modbus_port === null) delete body.modbus_port;
    if (!editing && !body.group_id) delete body.group_id;
    saveButton.disabled = true;
    try {
      const z = editing ? await api("PUT", `zones/${id}`, body) : await api("POST", "zones", body);
      app.flash = editing ? "Zone saved." : `Zone ${z.name} added.`;
      location.hash = `#/zone/${z.id}`;
      refreshNow();
    } catch (err) {
      formError.textContent = err.message;
      // The server's message names the field: mark it.
      const key = Object.keys(fields).find((k) => err.message.includes(k)) ||
        (/name/i.test(err.message) ? "name" : /endpoint|port/i.test(err.message) ? "modbus_port" : null);
      if (key) fieldError(fields, key, err.message);
    } finally {
      saveButton.disabled = false;
    }
  }

  return {};
}
