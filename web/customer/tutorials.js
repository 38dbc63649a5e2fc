// Tutorials on the customer page (docs/protocol.md, "Tutorials"): a tutorial the agent pushes
// plays beside the call (web/shared/tutorial-player.js); while waiting, the tutorials for the
// ticket's topic are offered ("this may solve it"). Watching never changes the place in line.
// The page calls attachTutorials(socket) once per connection and showSuggestions() when the
// waiting view shows.
import { call } from "/static/shared/signaling.js";
import { TutorialPlayer, renderSuggestions } from "/static/shared/tutorial-player.js";

const $ = (id) => document.getElementById(id);
const REPORTED = new Set(["opened", "position", "finished"]);
let player = null;
let socket = null;

// The player's view of a tutorial from the server (`<tutorial>` in protocol.md).
function playable(tutorial, extra = {}) {
  return {
    id: tutorial.id,
    title: tutorial.title,
    description: tutorial.description,
    chapters: tutorial.chapters,
    poster: tutorial.poster_image || null,
    // WebM first: it is the format without patents; the MP4 plays everywhere else.
    url: tutorial.media?.webm || tutorial.media?.mp4 || "",
    ...extra,
  };
}

function report(kind, where) {
  if (!socket || !REPORTED.has(kind) || !where.tutorial_id) return;
  const data = {
    tutorial_id: where.tutorial_id,
    push_id: player.tutorial?.push_id ?? null,
    state: kind,
    position: where.position,
  };
  call(socket, "tutorial_progress", data).catch(() => {
    // Progress is a courtesy to the agent; the tutorial keeps playing without it.
  });
}

export function attachTutorials(connection) {
  socket = connection;
  if (!player) player = new TutorialPlayer({ container: $("tutorial"), callAudio: $("remote"), report });
  socket.on("tutorial_pushed", (data) => {
    player.open(playable(data.tutorial, { push_id: data.push_id, start: data.start || 0 }));
  });
}

export async function showSuggestions() {
  const list = $("suggestions-list");
  if (!socket || !list) return;
  try {
    const answer = await call(socket, "tutorials", {});
    renderSuggestions(list, answer.tutorials.map((tut) => playable(tut)), player);
    $("suggestions").hidden = answer.tutorials.length === 0;
  } catch (err) {
    $("suggestions").hidden = true; // suggestions are a help, not a step: nothing to say
  }
}

export function closeTutorial() {
  if (player) player.close({ silent: true });
}
