// Sends the camera at the size its tile is drawn at in the composite: the server's
// `cameraConstraint` (docs/signaling.md "Sender constraints") becomes the camera sender's
// `scaleResolutionDownBy` and `maxBitrate`. Never upscales; the screen's sender is left alone.
// Applied again whenever the camera's sender or track changes (a new peer connection, a switched
// or restarted camera), since the scale depends on the track's own size.
import { state } from './state.js';

// The last constraint, and the session it is for (a new session gets its own).
let wanted = null;

export function onCameraConstraint(msg) {
  wanted = { selfId: state.selfId, width: msg.width, height: msg.height, maxBitrateKbps: msg.maxBitrateKbps };
  return applySendCap();
}

// How much to scale a `width`×`height` track down so it is no larger than the tile: the
// compositor fits the picture in its tile keeping its aspect ratio, so the larger ratio is the
// one that matters (a portrait phone in a landscape tile is scaled by its height).
export function scaleFor(width, height, tile) {
  if (!width || !height || !tile.width || !tile.height) return 1;
  return Math.max(1, width / tile.width, height / tile.height);
}

// Applies the constraint to the camera's sender, if there are both; one call at a time (a
// setParameters must carry the parameters of the getParameters just before it).
let applying = Promise.resolve();
export function applySendCap() {
  applying = applying.then(apply);
  return applying;
}

async function apply() {
  const sender = state.transceivers?.video?.sender;
  const track = sender?.track;
  if (!wanted || wanted.selfId !== state.selfId || !sender || !track || !sender.getParameters) return;
  const params = sender.getParameters();
  const encoding = params.encodings?.[0];
  if (!encoding) return; // not negotiated yet: applied again once it is
  const { width, height } = track.getSettings();
  const scale = scaleFor(width, height, wanted);
  const maxBitrate = wanted.maxBitrateKbps * 1000;
  if (encoding.scaleResolutionDownBy === scale && encoding.maxBitrate === maxBitrate) return;
  encoding.scaleResolutionDownBy = scale;
  encoding.maxBitrate = maxBitrate;
  try {
    await sender.setParameters(params);
  } catch (e) {
    // Another setParameters in flight, or a transceiver being torn down: the next change retries.
    console.warn('setParameters', e);
  }
}
