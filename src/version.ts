/** The service's version, reported by /metrics (`scoreboard_build_info`) and the start line. */
export const VERSION = "0.6.0";
