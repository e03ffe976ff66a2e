// Imagegram's web client: sign in, post through tus with progress, the
// feed with infinite scroll, comments, and live notifications from
// /v1/events. Plain JavaScript served by the gateway itself; no build step
// and no request leaves this origin.

const PAGE = 10;
const MAX_BYTES = 104857600;
const TOKEN_KEY = "imagegram.token";
const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  user: null,
  cursor: null,
  loading: false,
  done: false,
  shown: new Map(), // post id -> card element
  pending: null, // {postId, caption} of the upload being converted
  outcomes: new Map(), // post id -> event data, for outcomes that beat the upload's end
  upload: null,
};

// ---- Talking to the API -------------------------------------------------

/** A failure told as a sentence. */
class Trouble extends Error {
  constructor(sentence, status) {
    super(sentence);
    this.status = status;
  }
}

function sentence(status, detail) {
  if (status === 401) return "Your sign-in is no longer valid. Please sign in again.";
  if (status === 429) return detail ? `${capital(detail)}.` : "Too many requests; please wait a moment.";
  if (status >= 500) return "The server could not do that just now. Please try again in a moment.";
  if (detail) return `${capital(detail)}${/[.!?]$/.test(detail) ? "" : "."}`;
  return "That did not work.";
}

function capital(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (state.token) init.headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new Trouble("Could not reach the server. Check your connection and try again.", 0);
  }
  if (!response.ok) {
    let detail = "";
    try {
      detail = (await response.json()).detail || "";
    } catch {
      // not a problem document
    }
    if (response.status === 401 && state.token) signOut("Your sign-in has expired. Please sign in again.");
    throw new Trouble(sentence(response.status, detail), response.status);
  }
  return response.status === 204 ? { response } : { response, json: await response.json() };
}

// ---- Signing in ---------------------------------------------------------

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

function signIn(token) {
  const c = claims(token);
  if (!c || typeof c.sub !== "string") throw new Trouble("That does not look like a bearer token.", 0);
  if (c.exp && c.exp * 1000 < Date.now()) throw new Trouble("That token has expired.", 0);
  state.token = token;
  state.user = c.sub;
  localStorage.setItem(TOKEN_KEY, token);
  $("who-name").textContent = c.sub;
  $("who").hidden = false;
  $("sign-in").hidden = true;
  $("composer").hidden = false;
  for (const card of state.shown.values()) decorate(card);
  listen();
  showResumable();
}

function signOut(why) {
  state.token = null;
  state.user = null;
  localStorage.removeItem(TOKEN_KEY);
  stopListening();
  $("who").hidden = true;
  $("composer").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = why || "";
  for (const card of state.shown.values()) decorate(card);
}

async function setUpSignIn() {
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    try {
      signIn($("token").value.trim());
      $("token").value = "";
    } catch (trouble) {
      $("sign-in-error").textContent = trouble.message;
    }
  });
  $("dev-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const { json } = await api("/v1/dev/sign-in", { method: "POST", body: { name: $("dev-name").value } });
      signIn(json.token);
    } catch (trouble) {
      $("sign-in-error").textContent = trouble.message;
    }
  });
  $("sign-out").addEventListener("click", () => signOut());
  try {
    await api("/v1/dev/sign-in");
    $("dev-form").hidden = false;
  } catch {
    // development sign-in is off: tokens only
  }
  const kept = localStorage.getItem(TOKEN_KEY);
  if (kept) {
    try {
      signIn(kept);
      return;
    } catch {
      localStorage.removeItem(TOKEN_KEY);
    }
  }
  $("sign-in").hidden = false;
}

// ---- The feed -----------------------------------------------------------

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

function ago(iso) {
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  const steps = [
    [60, "second"],
    [3600, "minute"],
    [86400, "hour"],
    [604800, "day"],
    [Infinity, "week"],
  ];
  let unit = 1;
  for (const [limit, name] of steps) {
    if (Math.abs(seconds) < limit) return relative.format(Math.round(seconds / unit), name);
    unit = limit;
  }
  return new Date(iso).toLocaleString();
}

function card(post) {
  const node = $("card").content.firstElementChild.cloneNode(true);
  node.dataset.id = post.id;
  const form = node.querySelector(".comment-form");
  const input = form.querySelector("input");
  input.id = `comment-${post.id}`;
  form.querySelector("label").htmlFor = input.id;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    addComment(node, input);
  });
  fill(node, post);
  return node;
}

/** Shows `post` in its card, as it is now. */
function fill(node, post) {
  node.post = post;
  node.querySelector(".creator").textContent = post.creator;
  const when = node.querySelector(".when");
  when.dateTime = post.created_at;
  when.textContent = ago(post.created_at);
  when.title = new Date(post.created_at).toLocaleString();
  const photo = node.querySelector(".photo");
  if (post.image_url) {
    if (photo.getAttribute("src") !== post.image_url) photo.src = post.image_url;
    photo.alt = post.caption ? `Photo by ${post.creator}: ${post.caption}` : `Photo by ${post.creator}`;
    photo.hidden = false;
  } else {
    photo.hidden = true;
  }
  node.querySelector(".caption").textContent = post.caption;
  node.querySelector(".caption").hidden = !post.caption;
  const count = post.comment_count ?? 0;
  node.querySelector(".count").textContent = count === 1 ? "1 comment" : `${count} comments`;
  const list = node.querySelector(".comments");
  list.replaceChildren(
    ...(post.comments || []).map((c) => {
      const li = document.createElement("li");
      li.dataset.id = c.id;
      li.dataset.creator = c.creator;
      const who = document.createElement("strong");
      who.textContent = c.creator;
      const text = document.createElement("span");
      text.textContent = ` ${c.content}`;
      li.append(who, text);
      return li;
    }),
  );
  decorate(node);
}

/** What depends on who is signed in: the comment form, delete buttons. */
function decorate(node) {
  node.querySelector(".comment-form").hidden = !state.user;
  for (const li of node.querySelectorAll(".comments li")) {
    li.querySelector("button")?.remove();
    if (state.user && li.dataset.creator === state.user) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "quiet delete";
      button.textContent = "Delete";
      button.setAttribute("aria-label", `Delete your comment “${li.textContent.trim().slice(state.user.length).trim()}”`);
      button.addEventListener("click", () => deleteComment(node, li.dataset.id, button));
      li.append(button);
    }
  }
}

async function loadMore() {
  if (state.loading || state.done) return;
  state.loading = true;
  $("feed-status").textContent = "Loading…";
  try {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (state.cursor) query.set("cursor", state.cursor);
    const { json } = await api(`/v1/posts?${query}`);
    for (const post of json.items) {
      if (state.shown.has(post.id)) continue;
      const node = card(post);
      state.shown.set(post.id, node);
      $("feed").append(node);
    }
    state.cursor = json.next_cursor;
    state.done = !json.next_cursor;
    $("feed-status").textContent = state.done
      ? state.shown.size
        ? "That is everything."
        : "Nothing posted yet."
      : "";
  } catch (trouble) {
    if (trouble.status === 410) {
      // The snapshot this walk used is gone: start again, quietly.
      restartFeed();
      return;
    }
    $("feed-status").textContent = trouble.message;
  } finally {
    state.loading = false;
  }
  if (!state.done && nearTheEnd()) loadMore();
}

function nearTheEnd() {
  return $("more").getBoundingClientRect().top < window.innerHeight + 600;
}

function restartFeed() {
  state.cursor = null;
  state.done = false;
  state.loading = false;
  state.shown.clear();
  $("feed").replaceChildren();
  loadMore();
}

/** Reads one post again and shows it as it is now. */
async function refresh(postId, consistency) {
  const headers = consistency ? { "Imagegram-Consistency": consistency } : {};
  const { json } = await api(`/v1/posts/${postId}`, { headers });
  const node = state.shown.get(postId);
  if (node) fill(node, json);
  return json;
}

// ---- Comments -----------------------------------------------------------

async function addComment(node, input) {
  const error = node.querySelector(".comment-form .error");
  error.textContent = "";
  const content = input.value.trim();
  if (!content) {
    error.textContent = "Write something first.";
    return;
  }
  input.disabled = true;
  try {
    const { response } = await api(`/v1/posts/${node.dataset.id}/comments`, {
      method: "POST",
      body: { content },
      headers: { "Idempotency-Key": crypto.randomUUID() },
    });
    input.value = "";
    await refresh(node.dataset.id, response.headers.get("Imagegram-Consistency"));
  } catch (trouble) {
    error.textContent = trouble.message;
  } finally {
    input.disabled = false;
    input.focus();
  }
}

async function deleteComment(node, commentId, button) {
  button.disabled = true;
  try {
    const { response } = await api(`/v1/posts/${node.dataset.id}/comments/${commentId}`, { method: "DELETE" });
    await refresh(node.dataset.id, response.headers.get("Imagegram-Consistency"));
  } catch (trouble) {
    node.querySelector(".comment-form .error").textContent = trouble.message;
    button.disabled = false;
  }
}

// ---- Posting ------------------------------------------------------------

/** What a file's first bytes say it is, or null. */
async function sniff(file) {
  const b = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "png";
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b[0] === 0x42 && b[1] === 0x4d) return "bmp";
  return null;
}

function status(text, kind = "") {
  const p = $("post-status");
  p.textContent = text;
  p.className = `status ${kind}`;
}

function progress(percent) {
  $("progress").value = percent;
  $("progress-label").textContent = `${percent}%`;
}

function showResumable() {
  const storage = window.tus?.defaultOptions?.urlStorage;
  if (!storage) return;
  storage.findAllUploads().then((uploads) => {
    const hint = $("resume-hint");
    if (!uploads.length) {
      hint.hidden = true;
      return;
    }
    const name = uploads[0].metadata?.filename || "a photo";
    hint.textContent = `An upload of ${name} was interrupted. Choose the same file again to carry on where it stopped.`;
    hint.hidden = false;
  });
}

async function post(e) {
  e.preventDefault();
  const file = $("file").files[0];
  const caption = $("caption").value.trim();
  $("result").hidden = true;
  if (!file) return status("Choose a photo first.", "error");
  if (file.size > MAX_BYTES) return status("That file is larger than 100 MB, the most a post can be.", "error");
  if (file.size === 0) return status("That file is empty.", "error");
  if (!(await sniff(file))) return status("That file is not a PNG, JPEG or BMP image.", "error");
  if (caption.length > 2200) return status("A caption is at most 2,200 characters.", "error");

  let postPath = null;
  const upload = new window.tus.Upload(file, {
    endpoint: "/v1/uploads",
    chunkSize: 1024 * 1024,
    retryDelays: [0, 1000, 2000, 3000, 5000, 8000, 10000, 15000, 20000, 30000],
    headers: { Authorization: `Bearer ${state.token}` },
    metadata: { filename: file.name, filetype: file.type, caption },
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    onProgress(sent, total) {
      progress(Math.floor((sent / total) * 100));
      if ($("post-status").textContent.startsWith("The connection dropped")) status("Uploading…");
    },
    onAfterResponse(_request, response) {
      const named = response.getHeader("Imagegram-Post");
      if (named) postPath = named;
    },
    onShouldRetry(error) {
      const code = error.originalResponse ? error.originalResponse.getStatus() : 0;
      if (code === 0) status("The connection dropped. Trying again…");
      return code === 0 || code === 409 || code === 423 || code >= 500;
    },
    onError(error) {
      const response = error.originalResponse;
      let detail = "";
      try {
        detail = JSON.parse(response?.getBody() || "{}").detail || "";
      } catch {
        // not a problem document
      }
      status(sentence(response ? response.getStatus() : 0, detail) || "The upload failed.", "error");
      finishUpload();
    },
    onSuccess() {
      progress(100);
      finishUpload();
      const postId = postPath?.split("/").pop();
      if (!postId) return status("Uploaded, but the server did not say which post it made.", "error");
      state.pending = { postId, caption };
      status("Uploaded. Making the 600×600 picture…");
      const early = state.outcomes.get(postId);
      if (early) outcome(early.kind, early.data);
      else checkPending();
    },
  });
  state.upload = upload;
  $("post-button").disabled = true;
  $("pause").hidden = false;
  $("pause").textContent = "Pause";
  $("upload").hidden = false;
  progress(0);
  status("Uploading…");
  const previous = await upload.findPreviousUploads();
  if (previous.length) {
    upload.resumeFromPreviousUpload(previous[0]);
    status("Carrying on with the earlier upload…");
  }
  upload.start();
}

function finishUpload() {
  state.upload = null;
  $("post-button").disabled = false;
  $("pause").hidden = true;
  $("resume-hint").hidden = true;
}

function pauseOrResume() {
  const upload = state.upload;
  if (!upload) return;
  if ($("pause").textContent === "Pause") {
    upload.abort();
    $("pause").textContent = "Resume";
    status("Paused. Resume whenever you like.");
  } else {
    upload.start();
    $("pause").textContent = "Pause";
    status("Uploading…");
  }
}

/** A post's outcome, from the event stream (or read, after a gap). */
function outcome(kind, data) {
  const pending = state.pending;
  if (!pending || pending.postId !== data.post_id) {
    state.outcomes.set(data.post_id, { kind, data });
    return;
  }
  state.pending = null;
  if (kind === "post.published") {
    showPublished(pending, data);
  } else {
    status(`The photo could not be posted: ${data.reason}`, "error");
  }
}

/** Shows the user's new post, once the read side has it (the event's
 *  consistency token makes the read wait for that), with its 600×600
 *  picture, and puts it at the top of the feed. */
async function showPublished(pending, data) {
  let post = null;
  try {
    post = await refresh(data.post_id, data.consistency);
  } catch {
    // shown from the event alone; the next walk of the feed has it
  }
  status("Posted.", "ok");
  $("result-image").src = post?.image_url || data.image_url;
  $("result-image").alt = pending.caption ? `Your photo: ${pending.caption}` : "Your photo";
  $("result-caption").textContent = pending.caption;
  $("result").hidden = false;
  $("post-form").reset();
  if (post && !state.shown.has(post.id)) {
    const node = card(post);
    state.shown.set(post.id, node);
    $("feed").prepend(node);
  }
}

/** After a gap in the event stream, reads what became of the post. */
async function checkPending() {
  const pending = state.pending;
  if (!pending) return;
  try {
    const { json } = await api(`/v1/posts/${pending.postId}`);
    if (json.status === "published") outcome("post.published", { post_id: json.id, image_url: json.image_url });
    if (json.status === "failed") outcome("post.failed", { post_id: json.id, reason: json.failure_reason });
  } catch {
    // not projected yet: the event stream tells
  }
}

function setUpComposer() {
  $("post-form").addEventListener("submit", post);
  $("pause").addEventListener("click", pauseOrResume);
  const drop = $("drop");
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) drop.addEventListener(name, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files.length) {
      $("file").files = e.dataTransfer.files;
      status(`${e.dataTransfer.files[0].name} is ready to post.`);
    }
  });
}

// ---- Live notifications -------------------------------------------------

const events = { controller: null, lastId: null, seen: new Set(), retry: 1000 };

function stopListening() {
  events.controller?.abort();
  events.controller = null;
}

/** Follows /v1/events, reconnecting with Last-Event-ID after a drop. */
async function listen() {
  stopListening();
  const controller = new AbortController();
  events.controller = controller;
  while (!controller.signal.aborted && state.token) {
    try {
      const headers = { Authorization: `Bearer ${state.token}` };
      if (events.lastId) headers["Last-Event-ID"] = events.lastId;
      const response = await fetch("/v1/events", { headers, signal: controller.signal });
      if (response.status === 401) return signOut("Your sign-in has expired. Please sign in again.");
      if (!response.ok || !response.body) throw new Error(String(response.status));
      events.retry = 1000;
      await read(response.body);
    } catch {
      if (controller.signal.aborted) return;
    }
    await new Promise((done) => setTimeout(done, events.retry));
    events.retry = Math.min(events.retry * 2, 15000);
  }
}

async function read(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      dispatch(block);
    }
  }
}

function dispatch(block) {
  let name = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const at = line.indexOf(":");
    const field = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
    if (field === "event") name = value;
    if (field === "id") id = value;
    if (field === "data") data.push(value);
  }
  if (!data.length) return;
  if (id) {
    if (events.seen.has(id)) return; // a catch-up repeats some
    events.seen.add(id);
    events.lastId = id;
  }
  let payload;
  try {
    payload = JSON.parse(data.join("\n"));
  } catch {
    return;
  }
  // The last event's name, for people and tests inspecting the page.
  document.body.dataset.lastEvent = name;
  if (name === "post.published" || name === "post.failed") {
    outcome(name, payload);
    if (state.shown.has(payload.post_id)) refresh(payload.post_id, payload.consistency).catch(() => {});
  } else if (name === "comment.added") {
    const who = payload.comment.creator;
    toast(`${who} commented on your post: “${payload.comment.content}”`);
    if (state.shown.has(payload.post_id)) refresh(payload.post_id, payload.consistency).catch(() => {});
  } else if (name === "missed") {
    checkPending();
  }
}

function toast(text) {
  const note = document.createElement("p");
  note.className = "toast";
  note.textContent = text;
  $("toasts").append(note);
  setTimeout(() => note.remove(), 8000);
}

// ---- Start --------------------------------------------------------------

function start() {
  setUpComposer();
  setUpSignIn();
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: "600px" }).observe($("more"));
  loadMore();
  window.addEventListener("online", () => {
    if (state.token && !events.controller) listen();
  });
}

start();
