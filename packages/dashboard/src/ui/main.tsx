import { render } from 'preact';
import { adoptTokenFromLocation } from './api.js';
import { App } from './app.js';
import { applyStoredTheme } from './theme.js';
import './styles/theme.css';
import './styles/base.css';
import './styles/runs.css';
import './styles/run.css';
import './styles/timeline.css';

applyStoredTheme();
adoptTokenFromLocation();
render(<App />, document.getElementById('app')!);
