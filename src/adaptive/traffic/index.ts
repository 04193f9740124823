/** The traffic generator's public surface (issue 17): labelled simulated clients and the origin they talk to. */
export { CLASS_NAMES, CLASS_LABELS, PARAMS, MAX_ITEM_ID, type ClassName, type TrafficEvent } from './classes.js';
export { DEFAULT_MIX, generate, countByClass, type MixSpec } from './mix.js';
export { originStatus, loginSucceeds, isKnownPath } from './origin-model.js';
