/** Does nothing: measures the start-up every tsx-run contender pays (node + tsx + the usage probe). */
export {};
