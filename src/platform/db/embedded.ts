export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbedded(_dataDir: string): Promise<EmbeddedServer> {
  throw new Error('embedded database not wired yet');
}
