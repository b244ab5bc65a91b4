// Maps from a key to the list of values gathered under it, in the order they were added.

/** Appends `value` to the list `map` holds under `key`, starting the list when there is none. */
export function addToList<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
