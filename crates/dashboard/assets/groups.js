// Zone groups (#/groups): the tree as a table (path, kind, zones directly in it and below it), and for admins a
// form to create a group (name, kind, parent) or edit one (rename, relabel, move to another parent), and a delete
// button per row with a confirmation. What the server refuses (a sibling's name: 409, a group that still holds
// zones or subgroups: 409, a parent below the group itself: 422) is shown in its words. Zones join or leave a group
// in the zone form (forms.js).
import { api } from "./api.js";
import { can, needsRole } from "./auth.js";
import { h } from "./dom.js";
import { refreshNow } from "./live.js";

export const KINDS = [["group", "Group"], ["site", "Site"], ["building", "Building"], ["floor", "Floor"]];

/// The path label of a group ("HQ › Floor 2").
export const pathOf = (g) => g.path.join(" › ");

/// The options of a parent or group select: `none` first (value ""), then every group by path except `skip`'s.
export function groupOptions(groups, none, skip = new Set()) {
  const sorted = groups.filter((g) => !skip.has(g.id))
    .sort((a, b) => pathOf(a).localeCompare(pathOf(b), undefined, { numeric: true }));
  return [h("option", { value: "" }, none), ...sorted.map((g) => h("option", { value: String(g.id) }, pathOf(g)))];
}

/// `id` and every group below it (a group cannot move there).
function subtree(groups, id) {
  const out = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const g of groups) {
      if (g.parent_id !== null && out.has(g.parent_id) && !out.has(g.id)) { out.add(g.id); grew = true; }
    }
  }
  return out;
}

export function groupsView(main) {
  document.title = "Groups · Heating dashboard";
  const admin = can("admin");
  let groups = [];
  let editing = null; // the group the form edits, or null: a new one

  const body = h("tbody", {});
  const listError = h("p", { class: "msg error", id: "groups-error", role: "alert" });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Overview"), " › Groups"),
    h("div", { class: "page-head" }, h("h1", {}, "Zone groups")),
    h("p", { class: "muted" }, "Sites, buildings, floors or any grouping: the overview shows a section per group. " +
      "Put a zone in a group in its settings."));

  // The form: new group, or the group `editing`.
  const name = h("input", { id: "g-name", name: "name", type: "text", maxlength: "100", autocomplete: "off", "aria-describedby": "g-name-error" });
  const kind = h("select", { id: "g-kind", name: "kind" }, KINDS.map(([v, label]) => h("option", { value: v }, label)));
  const parent = h("select", { id: "g-parent", name: "parent_id", "aria-describedby": "g-parent-error" });
  const nameErr = h("span", { class: "field-error", id: "g-name-error" });
  const parentErr = h("span", { class: "field-error", id: "g-parent-error" });
  const legend = h("legend", {}, "New group");
  const submit = h("button", { class: "btn primary", type: "submit", id: "g-submit" }, "Create group");
  const cancel = h("button", { class: "btn", type: "button", id: "g-cancel", hidden: true, onclick: () => edit(null) }, "Cancel");
  const formError = h("p", { class: "msg error", id: "group-form-error", role: "alert" });
  const formNote = h("p", { class: "msg ok", id: "group-form-note", role: "status" });
  const form = h("form", { class: "panel form-narrow", id: "group-form", novalidate: true, onsubmit: save },
    h("fieldset", {}, legend,
      h("div", { class: "field-row" },
        h("div", { class: "field" }, h("label", { for: "g-name" }, "Name"), name, h("span", { class: "hint" }, "Unique among its siblings"), nameErr),
        h("div", { class: "field" }, h("label", { for: "g-kind" }, "Kind"), kind),
        h("div", { class: "field" }, h("label", { for: "g-parent" }, "Parent"), parent, parentErr))),
    h("div", { class: "actions" }, submit, cancel), formError, formNote);

  main.append(
    admin ? form : needsRole("admin", "Creating, editing or deleting a group"),
    h("section", { class: "panel mt-16", "aria-labelledby": "groups-heading" },
      h("h2", { id: "groups-heading", class: "m-0" }, "Groups"),
      listError,
      h("div", { class: "table-scroll" },
        h("table", { id: "groups" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Group"), h("th", { scope: "col" }, "Kind"),
            h("th", { scope: "col" }, "Zones"), admin ? h("th", { scope: "col" }, "") : null)),
          body))));

  function clearErrors() {
    formError.textContent = formNote.textContent = nameErr.textContent = parentErr.textContent = "";
    name.removeAttribute("aria-invalid");
    parent.removeAttribute("aria-invalid");
  }

  /// The form for group `g` (null: a new group).
  function edit(g) {
    editing = g;
    clearErrors();
    fillParents();
    legend.textContent = g ? `Edit ${pathOf(g)}` : "New group";
    submit.textContent = g ? "Save group" : "Create group";
    cancel.hidden = !g;
    name.value = g ? g.name : "";
    kind.value = g ? g.kind : "group";
    parent.value = g && g.parent_id !== null ? String(g.parent_id) : "";
    if (admin) name.focus();
  }

  function fillParents() {
    const keep = parent.value;
    parent.textContent = "";
    parent.append(...groupOptions(groups, "None (top level)", editing ? subtree(groups, editing.id) : new Set()));
    parent.value = Array.from(parent.options).some((o) => o.value === keep) ? keep : "";
  }

  async function save(e) {
    e.preventDefault();
    clearErrors();
    const n = name.value.trim();
    if (!n) {
      nameErr.textContent = "Enter a name.";
      name.setAttribute("aria-invalid", "true");
      name.focus();
      return;
    }
    const parentId = parent.value === "" ? null : Number(parent.value);
    let payload;
    if (editing) {
      payload = {};
      if (n !== editing.name) payload.name = n;
      if (kind.value !== editing.kind) payload.kind = kind.value;
      if (parentId !== editing.parent_id) payload.parent_id = parentId;
    } else {
      payload = { name: n, kind: kind.value, parent_id: parentId };
    }
    submit.disabled = true;
    try {
      const g = editing ? await api("PUT", `groups/${editing.id}`, payload) : await api("POST", "groups", payload);
      await load();
      edit(null);
      formNote.textContent = `Group ${pathOf(g)} saved.`;
      refreshNow();
    } catch (err) {
      formError.textContent = err.message;
      if (/parent/i.test(err.message)) { parentErr.textContent = err.message; parent.setAttribute("aria-invalid", "true"); }
      else if (/name/i.test(err.message)) { nameErr.textContent = err.message; name.setAttribute("aria-invalid", "true"); }
    } finally {
      submit.disabled = false;
    }
  }

  function row(g) {
    const err = h("div", { class: "field-error", "data-field": "row-error", role: "alert" });
    const depth = g.path.length - 1;
    const actions = [];
    if (admin) {
      const confirmBox = h("span", { class: "actions", hidden: true },
        h("button", { class: "btn danger solid", type: "button", "data-delete-yes": g.id, onclick: (e) => remove(g, e.currentTarget, err) }, "Delete"),
        h("button", { class: "btn", type: "button", onclick: () => { confirmBox.hidden = true; start.hidden = false; } }, "Keep"));
      const start = h("button", { class: "btn danger", type: "button", "data-delete": g.id,
        onclick: () => { err.textContent = ""; confirmBox.hidden = false; start.hidden = true; } }, "Delete…");
      actions.push(h("span", { class: "actions" },
        h("button", { class: "btn", type: "button", "data-edit": g.id, onclick: () => { edit(g); form.scrollIntoView({ block: "nearest" }); } }, "Edit"),
        start, confirmBox));
    }
    const nameCell = h("td", {}, h("strong", { "data-field": "name" }, g.name),
      depth ? h("div", { class: "muted", "data-field": "path" }, pathOf(g)) : null);
    nameCell.style.paddingLeft = `${8 + depth * 20}px`; // CSSOM: the page's CSP allows no inline style attribute
    return h("tr", { "data-group-id": g.id },
      nameCell,
      h("td", {}, (KINDS.find(([v]) => v === g.kind) || [g.kind, g.kind])[1]),
      h("td", { "data-field": "zones" }, g.zones_total === g.zones ? String(g.zones) : `${g.zones} (${g.zones_total} with subgroups)`),
      admin ? h("td", {}, actions, err) : null);
  }

  async function remove(g, button, err) {
    button.disabled = true;
    try {
      await api("DELETE", `groups/${g.id}`);
      if (editing && editing.id === g.id) edit(null);
      await load();
      refreshNow();
    } catch (e) {
      err.textContent = e.message;
      button.disabled = false;
    }
  }

  /// The tree in order: each group after its parent, siblings by name.
  function ordered(list) {
    const kids = new Map();
    const ids = new Set(list.map((g) => g.id));
    for (const g of list) {
      const p = g.parent_id !== null && ids.has(g.parent_id) ? g.parent_id : null;
      if (!kids.has(p)) kids.set(p, []);
      kids.get(p).push(g);
    }
    const out = [];
    const walk = (p) => {
      for (const g of (kids.get(p) || []).sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))) {
        out.push(g);
        walk(g.id);
      }
    };
    walk(null);
    return out;
  }

  async function load() {
    try {
      groups = await api("GET", "groups");
      listError.textContent = "";
    } catch (e) {
      listError.textContent = e.message;
      return;
    }
    body.textContent = "";
    if (!groups.length) body.append(h("tr", {}, h("td", { colspan: admin ? 4 : 3, class: "muted" }, "No groups yet.")));
    for (const g of ordered(groups)) body.append(row(g));
    if (editing) editing = groups.find((g) => g.id === editing.id) || null;
    fillParents();
  }

  load().then(() => { if (admin) name.focus(); });
  return {};
}
