// The tutorials API as the trainer page uses it. Until the server has tutorials (issue 12's
// back end), saving says so rather than pretending.
import { t } from "/static/shared/i18n.js";

export async function saveDraft(draft) {
  const res = await fetch("/api/tutorials", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(draft),
  });
  if (res.status === 404 || res.status === 405) throw new Error(t("trainer.edit.error.no_service"));
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message || String(res.status));
  return data;
}
