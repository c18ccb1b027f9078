/** A file as doctor could read it. Root-only files (a key, root's known_hosts) are not an error. */
export type FileText =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "missing" }
  | { readonly kind: "root-only" }
  | { readonly kind: "unreadable"; readonly message: string };

/** What a check says of a file only root may read. */
export const ROOT_ONLY = "cannot read (root only)";
