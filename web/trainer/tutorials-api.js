// The tutorials API (docs/openapi.yaml, tag tutorials) as the trainer page uses it. Every call
// resolves to the JSON answer or throws an Error carrying the server's message and code.

async function request(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const error = new Error(data?.error?.message || `HTTP ${res.status}`);
    error.code = data?.error?.code;
    error.status = res.status;
    throw error;
  }
  return data;
}

const tutorial = (id) => `/api/tutorials/${encodeURIComponent(id)}`;

export const createTutorial = (recordingId, title, topic) =>
  request("POST", "/api/tutorials", { recording_id: recordingId, title, ...(topic ? { topic } : {}) });
export const getTutorial = (id) => request("GET", tutorial(id));
export const saveDraft = (id, edit) => request("PUT", `${tutorial(id)}/draft`, edit);
export const revertDraft = (id) => request("DELETE", `${tutorial(id)}/draft`);
export const publish = (id) => request("POST", `${tutorial(id)}/publish`);
export const versions = (id) => request("GET", `${tutorial(id)}/versions`);
export const startRender = (id, format, version = "published") =>
  request("POST", `${tutorial(id)}/renders`, { format, version });
export const renderJob = (jobId) => request("GET", `/api/renders/${encodeURIComponent(jobId)}`);
export const cancelRender = (jobId) => request("DELETE", `/api/renders/${encodeURIComponent(jobId)}`);
export const makePublic = (id) => request("PUT", `${tutorial(id)}/public`);
export const revokePublic = (id) => request("DELETE", `${tutorial(id)}/public`);
export const qrUrl = (id, target = "stable") => `${tutorial(id)}/qr.svg${target === "public" ? "?target=public" : ""}`;

// The draft saved under `id`, or a new tutorial made from `recordingId` first.
export async function saveEdit(id, recordingId, edit) {
  let current = id;
  if (!current) current = (await createTutorial(recordingId, edit.title, edit.topic)).id;
  return saveDraft(current, edit);
}
