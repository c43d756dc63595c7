import { tarChunks } from './oci/tar-layer.js';

/**
 * The nginx server config sitepipe puts into every image. The listen directive sits in its
 * own file so that smoke tests can move the server to a free loopback port while every
 * other line stays exactly as shipped.
 */
export const SITE_ROOT = '/usr/share/nginx/html';
export const SERVER_CONF_PATH = '/etc/nginx/conf.d/default.conf';
export const LISTEN_CONF_DIR = '/etc/nginx/sitepipe';
export const LISTEN_CONF_PATH = `${LISTEN_CONF_DIR}/listen.conf`;
export const HEALTH_PATH = '/healthz';

export function listenConf(port: number, address?: string): string {
  return `listen ${address ? `${address}:` : ''}${port};\n`;
}

/** listen.conf for `port` on `address`, as a tar to put into LISTEN_CONF_DIR of a container. */
export async function listenConfArchive(port: number, address?: string): Promise<Buffer> {
  const content = Buffer.from(listenConf(port, address));
  const chunks: Buffer[] = [];
  const entry = {
    path: 'listen.conf',
    type: 'file' as const,
    size: content.length,
    content,
    mtime: new Date(),
  };
  for await (const chunk of tarChunks([entry])) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export function serverConf(): string {
  return `# Written by sitepipe.
server {
    include ${LISTEN_CONF_PATH};
    server_name _;
    root ${SITE_ROOT};
    index index.html index.xml;

    gzip on;
    gzip_types text/css application/javascript application/json application/xml application/rss+xml image/svg+xml;

    location = ${HEALTH_PATH} {
        access_log off;
        default_type text/plain;
        return 200 "ok\\n";
    }
    location / {
        try_files $uri $uri/ =404;
    }
    location ~* \\.(?:css|js|png|jpe?g|gif|svg|webp|avif|ico|woff2?)$ {
        expires 7d;
        add_header Cache-Control "public";
    }
    error_page 404 /404.html;
}
`;
}
