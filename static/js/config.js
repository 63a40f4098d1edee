export const API_BASE = "";
